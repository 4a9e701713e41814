"""Rate limits in Redis: the limiter itself, and `login`/`register` per client address."""

import asyncio
import time

import pytest
from sqlalchemy import func, select

from core.db import read_session
from core.errors import BadInput, RateLimited
from core.ratelimit import LOGIN as LOGIN_LIMIT
from core.ratelimit import REGISTER as REGISTER_LIMIT
from core.ratelimit import RateLimit, client_key
from models.accounts import LoginAttempt, User
from tests.helpers.client import GraphQLClient, error_code
from tests.helpers.factories import PASSWORD, make_account

LOGIN = """mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken } }"""
REGISTER = "mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }"
# The tests' requests all come from the loopback address, like a classroom behind one NAT.
CLIENT = client_key("127.0.0.1")
# Slow enough that no token comes back while a test runs.
SLOW_REFILL = 0.0001


async def _count(model: type) -> int:
    async with read_session() as db:
        return (await db.execute(select(func.count()).select_from(model))).scalar_one()


async def _fail_once(limit: RateLimit, key: str) -> None:
    with pytest.raises(BadInput):
        async with limit.attempt(key):
            raise BadInput("typo")


async def test_a_failure_costs_its_weight_and_an_empty_bucket_refuses_without_running() -> None:
    # Given a bucket of 10 where a failure costs 5, after two failures
    limit = RateLimit("test", capacity=10, refill_per_second=SLOW_REFILL, success_cost=1, failure_cost=5)
    await _fail_once(limit, "k")
    await _fail_once(limit, "k")
    ran = False
    # When a third attempt comes
    with pytest.raises(RateLimited) as refused:
        async with limit.attempt("k"):
            ran = True
    # Then it is refused before running, with the time until a token is back
    assert ran is False
    assert refused.value.extensions == {"code": "RATE_LIMITED", "retryAfterSeconds": 10_000}
    assert await limit.tokens("k") == pytest.approx(0, abs=0.01)


async def test_successes_cost_their_own_weight_and_buckets_are_per_key() -> None:
    limit = RateLimit("test", capacity=3, refill_per_second=SLOW_REFILL, success_cost=1, failure_cost=5)
    for _ in range(3):
        async with limit.attempt("a"):
            pass
    with pytest.raises(RateLimited):
        await limit.enter("a")
    await limit.enter("b")


async def test_attempts_in_parallel_cannot_take_more_than_the_bucket_holds() -> None:
    # Given a bucket of 5, when 20 attempts arrive at once
    limit = RateLimit("test", capacity=5, refill_per_second=SLOW_REFILL)
    outcomes = await asyncio.gather(*(limit.enter("k") for _ in range(20)), return_exceptions=True)
    # Then exactly 5 get in
    assert sum(outcome is None for outcome in outcomes) == 5
    assert all(isinstance(outcome, RateLimited) for outcome in outcomes if outcome is not None)


def test_client_keys_group_an_ipv6_subscriber_and_unwrap_mapped_ipv4() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("::ffff:203.0.113.9") == client_key("203.0.113.9") == "203.0.113.9"
    assert client_key(None) == "unknown"


async def test_a_classroom_behind_one_address_signs_in_within_a_minute_despite_typos(
    gql: GraphQLClient,
) -> None:
    # Given 40 students, all behind the same address
    students = [await make_account(email=f"student{i}@school.example") for i in range(40)]
    # When each signs in, and ten of them mistype their password first
    typos = [{"email": s.user.email, "password": "typo-password"} for s in students[:10]]
    logins = [{"email": s.user.email, "password": PASSWORD} for s in students]
    typo_errors = await asyncio.gather(*(gql.error(LOGIN, variables) for variables in typos))
    results = await asyncio.gather(*(gql.data(LOGIN, variables) for variables in logins))
    # Then the typos are wrong passwords, not rate limits, and everyone gets in
    assert {error_code(error) for error in typo_errors} == {"UNAUTHENTICATED"}
    assert all(result["login"]["accessToken"] for result in results)
    assert await _count(LoginAttempt) == 50


async def test_a_password_guessing_burst_is_stopped_and_refused_attempts_write_nothing(
    gql: GraphQLClient,
) -> None:
    # Given a script trying one password on many accounts from one address
    errors, answered_at = [], []
    for i in range(25):
        errors.append(await gql.error(LOGIN, {"email": f"victim{i}@example.com", "password": "123456789"}))
        answered_at.append(time.monotonic())
    codes = [error_code(error) for error in errors]
    # Then the bucket of 100 pays for 20 failures of 5 (21 if a token came back meanwhile), then refuses
    allowed = codes.index("RATE_LIMITED")
    assert allowed in (20, 21)
    assert set(codes) == {"UNAUTHENTICATED", "RATE_LIMITED"}
    assert errors[allowed]["extensions"]["retryAfterSeconds"] > 0
    # And after that only what refilled meanwhile gets in: 0.5 tokens/s, 1 to enter, 5 per failure
    refilled = (answered_at[-1] - answered_at[allowed]) * 0.5
    let_in_later = codes[allowed:].count("UNAUTHENTICATED")
    assert let_in_later <= (0 if refilled < 1 else 1 + int((refilled - 1) / 5))
    # And the refused attempts never reached the login history
    assert await _count(LoginAttempt) == codes.count("UNAUTHENTICATED")


async def test_login_is_refused_while_the_address_bucket_is_empty(gql: GraphQLClient) -> None:
    account = await make_account()
    await LOGIN_LIMIT.charge(CLIENT, LOGIN_LIMIT.capacity)
    error = await gql.error(LOGIN, {"email": account.user.email, "password": PASSWORD})
    assert (error["message"], error_code(error)) == ("Too many attempts, try again later", "RATE_LIMITED")
    assert await _count(LoginAttempt) == 0


async def test_register_is_refused_while_the_address_bucket_is_empty_and_creates_nobody(
    gql: GraphQLClient,
) -> None:
    await REGISTER_LIMIT.charge(CLIENT, REGISTER_LIMIT.capacity)
    registration = {"email": "new@example.com", "password": "long-enough-pw", "name": "New"}
    error = await gql.error(REGISTER, {"input": registration})
    assert error_code(error) == "RATE_LIMITED"
    assert await _count(User) == 0
