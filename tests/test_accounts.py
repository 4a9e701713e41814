from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import func, select

from core.auth import Role, hash_refresh_token
from core.db import read_session
from models.accounts import LoginAttempt, RefreshToken, User
from tests.classroom_factories import make_lecture
from tests.client import GraphQLClient, error_code
from tests.factories import PASSWORD, make_account

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken expiresIn user { id email name role digitalLevel } }
}"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken user { id } }
}"""
REFRESH = """
mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken } }"""
ME = "{ me { id email role profile { timezone language streakDays } } }"


async def _count(model: type) -> int:
    async with read_session() as db:
        return (await db.execute(select(func.count()).select_from(model))).scalar_one()


def _registration(**overrides: object) -> dict[str, object]:
    return {
        "input": {"email": "senior@example.com", "password": "long-enough-pw", "name": "Lee", **overrides}
    }


async def test_register_then_me_returns_the_new_student(gql: GraphQLClient) -> None:
    # Given a new visitor, when they register
    variables = _registration(email="Senior@Example.com", name=" Lee  Young ", digitalLevel="BEGINNER")
    payload = (await gql.data(REGISTER, variables))["register"]
    # Then they are a student with tokens, and `me` answers with their account
    assert payload["user"]["role"] == "STUDENT"
    assert payload["user"]["name"] == "Lee Young"
    assert payload["user"]["digitalLevel"] == "BEGINNER"
    assert payload["expiresIn"] == 900
    me = (await gql.data(ME, token=payload["accessToken"]))["me"]
    assert me["email"] == "Senior@example.com"
    assert me["profile"] == {"timezone": "UTC", "language": "ko", "streakDays": 0}


async def test_instructor_invite_code_grants_the_instructor_role(gql: GraphQLClient) -> None:
    payload = (await gql.data(REGISTER, _registration(instructorInviteCode="test-instructor")))["register"]
    assert payload["user"]["role"] == "INSTRUCTOR"


async def test_wrong_invite_code_is_refused_and_nothing_is_written(gql: GraphQLClient) -> None:
    error = await gql.error(REGISTER, _registration(instructorInviteCode="guess"))
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "instructorInviteCode")
    assert await _count(User) == 0


async def test_me_is_null_when_anonymous(gql: GraphQLClient) -> None:
    assert (await gql.data(ME)) == {"me": None}


async def test_invalid_registrations_name_the_field_and_write_nothing(gql: GraphQLClient) -> None:
    cases = [
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"name": "x" * 101}, "name"),
        ({"name": "   "}, "name"),
    ]
    for overrides, field in cases:
        error = await gql.error(REGISTER, _registration(**overrides))
        assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field), overrides
    assert await _count(User) == 0


async def test_duplicate_email_is_a_conflict_whatever_the_case(gql: GraphQLClient) -> None:
    await gql.data(REGISTER, _registration())
    error = await gql.error(REGISTER, _registration(email="SENIOR@example.com"))
    assert error_code(error) == "CONFLICT"
    assert await _count(User) == 1


async def test_login_with_the_right_password_returns_tokens_and_records_the_attempt(
    gql: GraphQLClient,
) -> None:
    account = await make_account()
    payload = (await gql.data(LOGIN, {"email": account.user.email.upper(), "password": PASSWORD}))["login"]
    assert payload["user"]["id"] == account.id
    async with read_session() as db:
        attempts = (await db.execute(select(LoginAttempt))).scalars().all()
    assert [(a.user_id, a.succeeded, a.reason) for a in attempts] == [(account.user.id, True, "ok")]


async def test_lockout_after_five_failures_answers_exactly_like_a_wrong_password(gql: GraphQLClient) -> None:
    # Given an account and five failed attempts
    account = await make_account()
    wrong = {"email": account.user.email, "password": "wrong-password"}
    failures = [await gql.error(LOGIN, wrong) for _ in range(5)]
    # When the right password is then given
    locked = await gql.error(LOGIN, {"email": account.user.email, "password": PASSWORD})
    unknown = await gql.error(LOGIN, {"email": "nobody@example.com", "password": PASSWORD})
    # Then it is refused with the very same error as a wrong password or an unknown email
    assert {(e["message"], error_code(e)) for e in [*failures, locked, unknown]} == {
        ("Invalid email or password", "UNAUTHENTICATED")
    }
    async with read_session() as db:
        user = await db.get(User, account.user.id)
        reasons = (
            (await db.execute(select(LoginAttempt.reason).order_by(LoginAttempt.created_at))).scalars().all()
        )
    assert user is not None and user.locked_until is not None
    assert timedelta(minutes=29) < user.locked_until - datetime.now(UTC) <= timedelta(minutes=30)
    assert reasons == ["bad_password"] * 5 + ["locked", "unknown_email"]


async def test_refresh_rotates_and_reusing_a_rotated_token_revokes_the_family(gql: GraphQLClient) -> None:
    # Given a login and one rotation
    account = await make_account()
    first = (await gql.data(LOGIN, {"email": account.user.email, "password": PASSWORD}))["login"][
        "refreshToken"
    ]
    second = (await gql.data(REFRESH, {"token": first}))["refreshToken"]["refreshToken"]
    assert second != first
    # When the first (already rotated) token is presented again
    reuse = await gql.error(REFRESH, {"token": first})
    # Then it is refused and the whole family, including the newest token, stops working
    assert error_code(reuse) == "UNAUTHENTICATED"
    assert error_code(await gql.error(REFRESH, {"token": second})) == "UNAUTHENTICATED"
    async with read_session() as db:
        family = select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_refresh_token(first))
        revoked = (
            (
                await db.execute(
                    select(RefreshToken.revoked_at).where(RefreshToken.family_id == family.scalar_subquery())
                )
            )
            .scalars()
            .all()
        )
    assert len(revoked) == 2 and all(revoked)


async def test_logout_revokes_the_refresh_token(gql: GraphQLClient) -> None:
    account = await make_account()
    token = (await gql.data(LOGIN, {"email": account.user.email, "password": PASSWORD}))["login"][
        "refreshToken"
    ]
    assert (await gql.data("mutation($t: String!) { logout(refreshToken: $t) }", {"t": token})) == {
        "logout": True
    }
    assert error_code(await gql.error(REFRESH, {"token": token})) == "UNAUTHENTICATED"


async def test_update_profile_changes_only_the_given_fields(gql: GraphQLClient) -> None:
    account = await make_account()
    mutation = """mutation($input: ProfileInput!) {
      updateProfile(input: $input) { name profile { bio timezone language } } }"""
    data = await gql.data(
        mutation, {"input": {"bio": "Retired teacher", "timezone": "Asia/Seoul"}}, token=account.token
    )
    assert data["updateProfile"] == {
        "name": "Kim Min-ji",
        "profile": {"bio": "Retired teacher", "timezone": "Asia/Seoul", "language": "ko"},
    }


async def test_update_profile_refuses_an_unknown_time_zone_and_changes_nothing(gql: GraphQLClient) -> None:
    account = await make_account()
    mutation = "mutation($input: ProfileInput!) { updateProfile(input: $input) { name } }"
    error = await gql.error(
        mutation, {"input": {"name": "New", "timezone": "Mars/Olympus"}}, token=account.token
    )
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "timezone")
    async with read_session() as db:
        user = await db.get(User, account.user.id)
    assert user is not None and (user.name, user.timezone) == ("Kim Min-ji", "UTC")


async def test_update_profile_needs_a_signed_in_user(gql: GraphQLClient) -> None:
    error = await gql.error('mutation { updateProfile(input: {name: "X"}) { name } }')
    assert error_code(error) == "UNAUTHENTICATED"


async def test_change_password_needs_the_current_one_and_signs_out_other_devices(gql: GraphQLClient) -> None:
    account = await make_account()
    refresh = (await gql.data(LOGIN, {"email": account.user.email, "password": PASSWORD}))["login"][
        "refreshToken"
    ]
    mutation = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
    wrong = await gql.error(
        mutation, {"c": "not-my-password", "n": "a-brand-new-password"}, token=account.token
    )
    assert (error_code(wrong), wrong["extensions"]["field"]) == ("BAD_USER_INPUT", "currentPassword")
    changed = await gql.data(mutation, {"c": PASSWORD, "n": "a-brand-new-password"}, token=account.token)
    assert changed == {"changePassword": True}
    assert error_code(await gql.error(REFRESH, {"token": refresh})) == "UNAUTHENTICATED"
    await gql.data(LOGIN, {"email": account.user.email, "password": "a-brand-new-password"})


def _forged(claims: dict[str, object], key: str, algorithm: str) -> str:
    now = datetime.now(UTC)
    return jwt.encode(
        {"typ": "access", "iat": now, "exp": now + timedelta(minutes=5), **claims}, key, algorithm
    )


async def test_bad_tokens_are_refused_as_unauthenticated(gql: GraphQLClient) -> None:
    account = await make_account(Role.STUDENT)
    claims = {"sub": account.id, "role": "ADMIN"}
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    body = jwt.utils.base64url_encode(
        f'{{"sub":"{account.id}","role":"ADMIN","typ":"access","iat":1,"exp":9999999999}}'.encode()
    ).decode()
    expired_claims = {
        **claims,
        "iat": datetime.now(UTC) - timedelta(hours=1),
        "exp": datetime.now(UTC) - timedelta(minutes=1),
    }
    tokens = {
        "wrong signature": _forged(claims, "some-other-secret-that-is-long-enough", "HS256"),
        "alg none": f"{header}.{body}.",
        "expired": _forged(expired_claims, "test-secret-key-that-is-long-enough-for-hs256", "HS256"),
        "garbage": "not.a.jwt",
    }
    for name, token in tokens.items():
        error = await gql.error(ME, token=token)
        assert error_code(error) == "UNAUTHENTICATED", name


async def test_control_characters_in_account_text_are_bad_user_input_and_change_nothing(
    gql: GraphQLClient,
) -> None:
    # Given a signed-in user
    account = await make_account()
    before = await _count(LoginAttempt)
    update = "mutation($input: ProfileInput!) { updateProfile(input: $input) { name } }"
    cases = [
        (REGISTER, _registration(name="Lee\u0000"), None, "name"),
        (REGISTER, _registration(email="senior\u0000@example.com"), None, "email"),
        (REGISTER, _registration(name="Lee\u001b[2J"), None, "name"),
        (LOGIN, {"email": f"{account.user.email}\u0000", "password": PASSWORD}, None, "email"),
        (update, {"input": {"name": "Kim\u0000"}}, account.token, "name"),
        (update, {"input": {"bio": "hello\u0000"}}, account.token, "bio"),
        (update, {"input": {"language": "k\u0000o"}}, account.token, "language"),
        (update, {"input": {"timezone": "Asia/Seoul\u0000"}}, account.token, "timezone"),
    ]
    for query, variables, token, field in cases:
        # When text with a NUL or another control character is sent
        error = await gql.error(query, variables, token=token)
        # Then it is the client's mistake, on that field
        assert (error_code(error), error["extensions"].get("field")) == ("BAD_USER_INPUT", field), variables
    # And nothing was written: no account, no login attempt, the profile as it was
    assert await _count(User) == 1
    assert await _count(LoginAttempt) == before
    async with read_session() as db:
        user = await db.get(User, account.user.id)
    assert user is not None and (user.name, user.bio, user.language) == ("Kim Min-ji", None, "ko")


async def test_account_text_is_stored_in_nfc_and_bios_keep_their_lines(gql: GraphQLClient) -> None:
    # Given a name typed with a combining accent (e + U+0301) and a bio of two lines
    payload = (await gql.data(REGISTER, _registration(name="Jose\u0301")))["register"]
    mutation = "mutation($input: ProfileInput!) { updateProfile(input: $input) { name profile { bio } } }"
    data = await gql.data(mutation, {"input": {"bio": "Line one\nLine two"}}, token=payload["accessToken"])
    # Then the name is stored precomposed, and the bio keeps its newline
    assert payload["user"]["name"] == "Jos\u00e9"
    assert data["updateProfile"] == {"name": "Jos\u00e9", "profile": {"bio": "Line one\nLine two"}}


async def test_an_email_is_shown_only_to_its_owner_and_admins(gql: GraphQLClient) -> None:
    # Given an instructor's lecture, a student and an admin
    instructor = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(instructor)
    student = await make_account()
    admin = await make_account(Role.ADMIN)
    query = "query($id: ID!) { lecture(id: $id) { title instructor { id name email } } }"

    def seen(data: dict[str, Any]) -> Any:
        return data["lecture"]["instructor"]

    # When each of them reads the lecture's instructor
    as_student = seen(await gql.data(query, {"id": str(lecture.id)}, token=student.token))
    as_anonymous = seen(await gql.data(query, {"id": str(lecture.id)}))
    as_instructor = seen(await gql.data(query, {"id": str(lecture.id)}, token=instructor.token))
    as_admin = seen(await gql.data(query, {"id": str(lecture.id)}, token=admin.token))
    # Then the student and the anonymous visitor see the name and id but not the address
    hidden = {"id": instructor.id, "name": instructor.user.name, "email": ""}
    assert as_student == hidden
    assert as_anonymous == hidden
    # And the instructor and the admin see it
    shown = {**hidden, "email": instructor.user.email}
    assert as_instructor == shown
    assert as_admin == shown


async def test_a_sign_in_shows_the_account_its_own_email(gql: GraphQLClient) -> None:
    account = await make_account()
    login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { email } } }"
    data = await gql.data(login, {"e": account.user.email, "p": PASSWORD})
    assert data["login"]["user"]["email"] == account.user.email
