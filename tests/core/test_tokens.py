"""Token verification: the fast path for the tokens we issue answers exactly what PyJWT answers."""

import time
import uuid
from typing import Any

import jwt
import pytest

from core import auth
from core.auth import Role, authenticate, issue_access_token, issue_participant_token
from core.errors import Unauthenticated
from core.settings import get_settings


def _signed(claims: dict[str, Any], *, key: str | None = None, **header: Any) -> str:
    secret = key if key is not None else get_settings().secret_key
    return jwt.encode(claims, secret, algorithm="HS256", headers=header or None)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "role": "STUDENT",
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _tokens() -> list[str]:
    now = int(time.time())
    valid = _signed(_claims())
    head, payload, signature = valid.split(".")
    return [
        issue_access_token(uuid.uuid4(), Role.INSTRUCTOR)[0],
        issue_participant_token(uuid.uuid4(), uuid.uuid4()),
        valid,
        _signed(_claims(exp=now - 1)),
        _signed(_claims(exp=now)),
        _signed(_claims(iat=now + 60)),
        _signed(_claims(iat=now - 0.5)),
        _signed(_claims(exp=float(now + 600))),
        _signed(_claims(exp="soon")),
        _signed(_claims(exp=True)),
        _signed(_claims(sub=42)),
        _signed(_claims(jti=7)),
        _signed(_claims(typ="refresh")),
        _signed(_claims(typ=None)),
        _signed(_claims(role=None)),
        _signed(_claims(role="OWNER")),
        _signed(_claims(sub="not-a-uuid")),
        _signed(_claims(typ="participant")),
        _signed(_claims(typ="participant", sid=str(uuid.uuid4()))),
        _signed(_claims(nbf=now + 60)),
        _signed(_claims(aud="someone")),
        _signed(_claims(iss="elsewhere")),
        _signed(_claims(), key="another-key-that-is-long-enough-for-hs256"),
        _signed(_claims(), kid="k1"),
        jwt.encode(_claims(), get_settings().secret_key, algorithm="HS512"),
        jwt.encode(_claims(), None, algorithm="none"),
        f"{head}.{payload}.{signature[:-2]}",
        f"{head}.{payload}x.{signature}",
        f"{head}.{payload}.{signature}.",
        f"{head}.{payload}",
        f"{head}..{signature}",
        "not a token",
        "",
        f"{head}.{payload}.{signature}\u00e9",
    ]


def _verdict(check: Any, token: str) -> object:
    try:
        return check(token)
    except Unauthenticated as error:
        return ("Unauthenticated", error.message)


@pytest.mark.parametrize("index", range(len(_tokens())))
def test_the_fast_path_agrees_with_pyjwt(index: int) -> None:
    token = _tokens()[index]
    # Whatever the fast path accepts, PyJWT accepts with the same claims; the rest goes to PyJWT.
    plain = auth._plain_claims(token)
    reference = _verdict(auth._claims_by_pyjwt, token)
    assert plain is None or plain == reference
    assert _verdict(auth.verified_claims, token) == reference


def test_tokens_we_issue_take_the_fast_path() -> None:
    user_id, session_id, participant_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    access, _ = issue_access_token(user_id, Role.INSTRUCTOR)
    participant = issue_participant_token(participant_id, session_id)
    assert auth._plain_claims(access) is not None
    assert auth._plain_claims(participant) is not None
    assert authenticate(f"Bearer {access}").actor == auth.UserActor(user_id, Role.INSTRUCTOR)
    assert authenticate(participant).actor == auth.ParticipantActor(participant_id, session_id)


def test_an_expired_token_is_refused_as_expired() -> None:
    token = _signed(_claims(exp=int(time.time()) - 1))
    with pytest.raises(Unauthenticated, match="Token expired"):
        authenticate(f"Bearer {token}")
