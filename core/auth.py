"""Passwords, tokens and the acting principal.

Access tokens are short-lived HS256 JWTs. Refresh tokens are opaque random strings stored hashed, so a
database leak does not leak usable tokens. Participant tokens are JWTs scoped to one participant of one
live session, for students who join without an account.
"""

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jwt.utils import base64url_decode

from core.errors import Forbidden, Unauthenticated
from core.settings import get_settings

_ALGORITHM = "HS256"
PARTICIPANT_TOKEN_HOURS = 12
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the response time the same as for a real account.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-same-cost")


class Role(StrEnum):
    STUDENT = "STUDENT"
    INSTRUCTOR = "INSTRUCTOR"
    ADMIN = "ADMIN"


@dataclass(frozen=True)
class UserActor:
    user_id: uuid.UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class ParticipantActor:
    participant_id: uuid.UUID
    session_id: uuid.UUID


Actor = UserActor | ParticipantActor | None


def require_user(actor: Actor) -> UserActor:
    if not isinstance(actor, UserActor):
        raise Unauthenticated()
    return actor


def require_role(actor: Actor, *roles: Role) -> UserActor:
    user = require_user(actor)
    if user.role not in roles and not user.is_admin:
        raise Forbidden()
    return user


# Argon2 takes tens of milliseconds of CPU by design; in a thread (the C code releases the GIL) it does
# not stall every other request and websocket of the event loop meanwhile.
async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def _encode(claims: dict[str, Any], lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    payload = {**claims, "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
    return jwt.encode(payload, get_settings().secret_key, algorithm=_ALGORITHM)


def _decode(token: str, expected_type: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            get_settings().secret_key,
            algorithms=[_ALGORITHM],
            options={"require": ["exp", "iat", "sub", "typ"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("Token expired") from error
    except jwt.PyJWTError as error:
        raise Unauthenticated("Invalid token") from error
    if claims["typ"] != expected_type:
        raise Unauthenticated("Invalid token")
    return claims


def issue_access_token(user_id: uuid.UUID, role: Role) -> tuple[str, int]:
    lifetime = timedelta(minutes=get_settings().access_token_minutes)
    token = _encode({"sub": str(user_id), "role": role.value, "typ": "access"}, lifetime)
    return token, int(lifetime.total_seconds())


def issue_participant_token(participant_id: uuid.UUID, session_id: uuid.UUID) -> str:
    claims = {"sub": str(participant_id), "sid": str(session_id), "typ": "participant"}
    return _encode(claims, timedelta(hours=PARTICIPANT_TOKEN_HOURS))


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(48)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Authentication:
    actor: Actor
    # When the token stops being valid; None without a token. A websocket outlives its token otherwise.
    expires_at: datetime | None = None


def authenticate(value: str | None) -> Authentication:
    """The principal behind an `Authorization` value and the expiry of its token: no actor when absent,
    Unauthenticated when invalid or expired."""
    if not value:
        return Authentication(None)
    scheme, _, token = value.strip().partition(" ")
    if not token:
        token, scheme = scheme, "bearer"
    if scheme.lower() != "bearer":
        raise Unauthenticated("Unsupported authorization scheme")
    claims = verified_claims(token)
    try:
        if claims["typ"] == "participant":
            actor: Actor = ParticipantActor(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
        else:
            actor = UserActor(uuid.UUID(claims["sub"]), Role(claims["role"]))
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (KeyError, ValueError, TypeError, OverflowError) as error:
        raise Unauthenticated("Invalid token") from error
    return Authentication(actor, expires_at)


def actor_from_authorization(value: str | None) -> Actor:
    """The principal behind an `Authorization` value; None when absent, Unauthenticated when invalid."""
    return authenticate(value).actor


def verified_claims(token: str) -> dict[str, Any]:
    """The claims of a valid access or participant token (`typ` says which); Unauthenticated otherwise."""
    claims = _plain_claims(token)
    if claims is not None:
        return claims
    return _claims_by_pyjwt(token)


def _claims_by_pyjwt(token: str) -> dict[str, Any]:
    """The reference verdict on any token, with PyJWT's errors as ours."""
    expected = "participant" if _peek_type(token) == "participant" else "access"
    return _decode(token, expected)


# The header of every token `_encode` issues, and the claims it may carry.
_HEADER = jwt.encode({}, "k" * 32, algorithm=_ALGORITHM).partition(".")[0]
_PLAIN_CLAIMS = frozenset({"sub", "role", "sid", "typ", "iat", "exp", "jti"})
_TOKEN_TYPES = frozenset({"access", "participant"})
# Three unpadded base64url segments: what PyJWT would decode more leniently, or refuse, is left to it.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _plain_claims(token: str) -> dict[str, Any] | None:
    """The claims of a token shaped as this module issues them (our header, only our claims, integer
    times), once its signature and times hold: what PyJWT would answer for it, at a fraction of the cost
    paid on every request and websocket. None for anything else, which PyJWT then judges."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    header, payload, signature = token.split(".")
    if header != _HEADER:
        return None
    try:
        signing_input = f"{header}.{payload}".encode()
        expected = hmac.digest(get_settings().secret_key.encode(), signing_input, hashlib.sha256)
        if not hmac.compare_digest(expected, base64url_decode(signature)):
            return None
        claims = json.loads(base64url_decode(payload))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or not claims.keys() <= _PLAIN_CLAIMS:
        return None
    exp, iat, jti = claims.get("exp"), claims.get("iat"), claims.get("jti", "")
    now = datetime.now(UTC).timestamp()
    plain = (
        type(exp) is int
        and type(iat) is int
        and iat <= now < exp
        and isinstance(claims.get("sub"), str)
        and claims.get("typ") in _TOKEN_TYPES
        and isinstance(jti, str)
    )
    return claims if plain else None


def _peek_type(token: str) -> str | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise Unauthenticated("Invalid token") from error
    typ = claims.get("typ")
    return typ if isinstance(typ, str) else None
