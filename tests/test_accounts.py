from sqlalchemy import func, select

from core.db import read_session
from models.accounts import LoginAttempt, User

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken expiresIn user { id email name role } }
}"""
ME = "{ me { id email role profile { timezone language streakDays } } }"


async def test_register_then_me_returns_the_new_student(gql) -> None:
    # Given a new visitor
    # When they register
    payload = (
        await gql.data(
            REGISTER,
            {"input": {"email": "Senior@Example.com", "password": "long-enough-pw", "name": " Lee  Young "}},
        )
    )["register"]
    # Then they are a student with tokens, and `me` answers with their account
    assert payload["user"]["role"] == "STUDENT"
    assert payload["user"]["name"] == "Lee Young"
    assert payload["expiresIn"] == 900
    me = (await gql.data(ME, token=payload["accessToken"]))["me"]
    assert me["email"] == "Senior@example.com"
    assert me["profile"] == {"timezone": "UTC", "language": "ko", "streakDays": 0}


async def test_me_is_null_when_anonymous(gql) -> None:
    assert (await gql.data(ME)) == {"me": None}


async def test_short_password_is_refused_and_nothing_is_written(gql) -> None:
    from tests.client import error_code

    error = await gql.error(REGISTER, {"input": {"email": "a@example.com", "password": "short", "name": "A"}})
    assert error_code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "password"
    async with read_session() as db:
        assert (await db.execute(select(func.count()).select_from(User))).scalar_one() == 0


async def test_failed_login_is_recorded(gql) -> None:
    from tests.client import error_code

    error = await gql.error(
        'mutation { login(email: "nobody@example.com", password: "whatever-pw") { accessToken } }'
    )
    assert error_code(error) == "UNAUTHENTICATED"
    async with read_session() as db:
        attempts = (await db.execute(select(LoginAttempt))).scalars().all()
    assert [(a.email, a.succeeded, a.reason) for a in attempts] == [
        ("nobody@example.com", False, "unknown_email")
    ]
