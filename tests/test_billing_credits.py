"""The credit ledger: lazy free months, atomic, idempotent spends, periods, history, the admin's grant."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from core.auth import Role
from core.db import read_session, transaction
from core.errors import BadInput, PaymentRequired
from models.billing import CreditBalance, CreditEntry, CreditKind, EntryType
from resolvers.billing import credits, plans
from tests.billing_helpers import credits_of, ledger, ledger_sums
from tests.client import GraphQLClient, error_code
from tests.factories import Account, make_account
from tests.processes import api_process

SPEND = """
mutation($kind: CreditKind!, $key: String!) {
  spendCredit(kind: $kind, idempotencyKey: $key) { kind remaining unlimited resetsAt }
}"""
GRANT = """
mutation($user: ID!, $kind: CreditKind!, $amount: Int!, $reason: String!) {
  grantCredits(userId: $user, kind: $kind, amount: $amount, reason: $reason) { kind remaining unlimited }
}"""
HISTORY = """
query($kind: CreditKind, $first: Int, $after: String) {
  creditHistory(kind: $kind, first: $first, after: $after) {
    edges { cursor node { id kind type delta reason createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _next_month_start(now: datetime) -> str:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).isoformat()


async def _spend(gql: GraphQLClient, account: Account, kind: str, key: str) -> dict[str, object]:
    body = await gql.execute(SPEND, {"kind": kind, "key": key}, token=account.token)
    return body


async def test_a_new_user_sees_the_free_month_without_anything_written(gql: GraphQLClient) -> None:
    student = await make_account()
    balances = await credits_of(gql, student)
    now = datetime.now(UTC)
    assert {kind: b["remaining"] for kind, b in balances.items()} == {
        "SUMMARY": 5,
        "QUIZ_GENERATION": 2,
        "ESSAY_GRADING": 5,
    }
    assert {b["unlimited"] for b in balances.values()} == {False}
    assert {b["resetsAt"] for b in balances.values()} == {_next_month_start(now)}
    # Reading never writes: the month's credits are granted on first use
    assert await ledger(student) == []


async def test_the_first_spend_grants_the_free_month_then_spends_one(gql: GraphQLClient) -> None:
    student = await make_account()
    balance = (await gql.data(SPEND, {"kind": "QUIZ_GENERATION", "key": "quiz-1"}, token=student.token))[
        "spendCredit"
    ]
    assert (balance["remaining"], balance["unlimited"]) == (1, False)
    month = datetime.now(UTC).strftime("%B %Y")
    assert await ledger(student) == [
        ("QUIZ_GENERATION", "GRANT", 2, f"Free plan: {month}"),
        ("QUIZ_GENERATION", "SPEND", -1, "Spent by the app"),
    ]


async def test_a_nul_character_in_an_idempotency_key_is_bad_input_and_spends_nothing(
    gql: GraphQLClient,
) -> None:
    # Given a student with free credits
    student = await make_account()
    # When they spend with a key Postgres could not store
    error = await gql.error(SPEND, {"kind": "SUMMARY", "key": "a\u0000b"}, token=student.token)
    # Then it is BAD_USER_INPUT on that field and the ledger holds nothing
    assert error_code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "idempotencyKey"
    assert await ledger(student) == []


async def test_spending_past_zero_is_payment_required_and_writes_nothing(gql: GraphQLClient) -> None:
    # Given a student who used both free quiz generations
    student = await make_account()
    for key in ("a", "b"):
        await gql.data(SPEND, {"kind": "QUIZ_GENERATION", "key": key}, token=student.token)
    before = await ledger(student)
    # When they spend once more
    error = await gql.error(SPEND, {"kind": "QUIZ_GENERATION", "key": "c"}, token=student.token)
    # Then it is PAYMENT_REQUIRED, the ledger is unchanged and the balance is zero, not below
    assert error_code(error) == "PAYMENT_REQUIRED"
    assert error["extensions"]["kind"] == "QUIZ_GENERATION"
    assert await ledger(student) == before
    assert (await ledger_sums(student))["QUIZ_GENERATION"] == 0
    assert (await credits_of(gql, student))["QUIZ_GENERATION"]["remaining"] == 0


async def test_the_same_idempotency_key_never_spends_twice(gql: GraphQLClient) -> None:
    student = await make_account()
    first = (await gql.data(SPEND, {"kind": "SUMMARY", "key": "summary-42"}, token=student.token))[
        "spendCredit"
    ]
    again = (await gql.data(SPEND, {"kind": "SUMMARY", "key": "summary-42"}, token=student.token))[
        "spendCredit"
    ]
    assert first["remaining"] == again["remaining"] == 4
    assert len([row for row in await ledger(student) if row[1] == "SPEND"]) == 1
    # The same key for another kind is a client bug, not a second spend
    error = await gql.error(SPEND, {"kind": "ESSAY_GRADING", "key": "summary-42"}, token=student.token)
    assert (error_code(error), error["extensions"]["field"]) == ("CONFLICT", "idempotencyKey")


async def test_concurrent_repeats_of_one_key_spend_once(gql: GraphQLClient) -> None:
    student = await make_account()
    results = await asyncio.gather(*(_spend(gql, student, "SUMMARY", "same") for _ in range(10)))
    assert all("errors" not in r for r in results), results
    assert (await ledger_sums(student))["SUMMARY"] == 4


async def test_keys_belong_to_their_user(gql: GraphQLClient) -> None:
    alice, bob = await make_account(), await make_account()
    await gql.data(SPEND, {"kind": "SUMMARY", "key": "k"}, token=alice.token)
    await gql.data(SPEND, {"kind": "SUMMARY", "key": "k"}, token=bob.token)
    assert (await ledger_sums(alice))["SUMMARY"] == (await ledger_sums(bob))["SUMMARY"] == 4


async def test_a_spend_rolled_back_with_its_callers_work_is_gone() -> None:
    student = await make_account()

    class FeatureFailed(Exception):
        pass

    with pytest.raises(FeatureFailed):
        async with transaction() as db:
            await credits.spend(db, student.user.id, CreditKind.SUMMARY, "summary of chapter 1", "job-1")
            raise FeatureFailed()
    assert await ledger(student) == []


async def test_a_refunded_spend_gives_the_credit_back_once() -> None:
    student = await make_account()
    async with transaction() as db:
        await credits.spend(db, student.user.id, CreditKind.ESSAY_GRADING, "grading essay 7", "grade-7")
    for _ in range(2):
        async with transaction() as db:
            await credits.refund_spend(db, student.user.id, "grade-7", "grading failed")
    assert (await ledger_sums(student))["ESSAY_GRADING"] == 5


async def test_spend_checks_its_input() -> None:
    student = await make_account()
    for key, reason, field in (
        ("", "r", "idempotencyKey"),
        ("k" * 151, "r", "idempotencyKey"),
        ("k", " ", "reason"),
        ("k\x00", "r", "idempotencyKey"),
        ("k", "lunch\x00", "reason"),
    ):
        async with transaction() as db:
            with pytest.raises(BadInput) as raised:
                await credits.spend(db, student.user.id, CreditKind.SUMMARY, reason, key)
        assert raised.value.field == field


async def test_an_ended_period_expires_its_rest_and_the_new_month_starts(gql: GraphQLClient) -> None:
    # Given a student with 3 credits left of last month's free SUMMARY credits
    student = await make_account()
    now = datetime.now(UTC)
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    old_bucket = f"free:{last_month:%Y-%m}"
    async with transaction() as db:
        db.add(
            CreditBalance(
                user_id=student.user.id,
                kind=CreditKind.SUMMARY,
                bucket=old_bucket,
                resets_at=this_month,
            )
        )
        for delta, entry_type, key in (
            (5, EntryType.GRANT, f"grant:{old_bucket}:SUMMARY"),
            (-2, EntryType.SPEND, None),
        ):
            db.add(
                CreditEntry(
                    user_id=student.user.id,
                    kind=CreditKind.SUMMARY,
                    entry_type=entry_type,
                    delta=delta,
                    reason="last month",
                    bucket=old_bucket,
                    idempotency_key=key,
                    created_at=last_month,
                )
            )
    # When they spend this month
    balance = (await gql.data(SPEND, {"kind": "SUMMARY", "key": "new"}, token=student.token))["spendCredit"]
    # Then last month's 3 expired, this month's 5 came, one is spent
    assert balance["remaining"] == 4
    types = [(t, d) for kind, t, d, _ in await ledger(student) if kind == "SUMMARY"]
    assert sorted(types) == sorted([("GRANT", 5), ("SPEND", -2), ("EXPIRY", -3), ("GRANT", 5), ("SPEND", -1)])


async def test_unlimited_kinds_spend_without_limit_and_are_recorded(gql: GraphQLClient) -> None:
    # Given a premium period (granted as invoice.paid grants it)
    student = await make_account()
    async with transaction() as db:
        premium = await plans.plan_by_code(db, "premium_monthly")
        assert premium is not None
        now = datetime.now(UTC)
        await credits.grant_period(db, student.user.id, premium, "in_test", now, now + timedelta(days=30))
    # When they ask for 12 summaries
    for i in range(12):
        balance = (await gql.data(SPEND, {"kind": "SUMMARY", "key": f"s{i}"}, token=student.token))[
            "spendCredit"
        ]
        assert balance["unlimited"] is True
    # Then every one succeeded, each is in the history, and the sum stays where it was
    spends = [row for row in await ledger(student) if row[0] == "SUMMARY" and row[1] == "SPEND"]
    assert len(spends) == 12
    assert {row[2] for row in spends} == {0}
    assert (await credits_of(gql, student))["QUIZ_GENERATION"]["remaining"] == 50


async def test_credit_history_pages_through_the_users_own_entries(gql: GraphQLClient) -> None:
    student, other = await make_account(), await make_account()
    for i in range(3):
        await gql.data(SPEND, {"kind": "ESSAY_GRADING", "key": f"e{i}"}, token=student.token)
    await gql.data(SPEND, {"kind": "SUMMARY", "key": "s"}, token=student.token)
    await gql.data(SPEND, {"kind": "SUMMARY", "key": "s"}, token=other.token)
    first = (await gql.data(HISTORY, {"kind": "ESSAY_GRADING", "first": 2}, token=student.token))[
        "creditHistory"
    ]
    assert [e["node"]["type"] for e in first["edges"]] == ["SPEND", "SPEND"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await gql.data(
            HISTORY,
            {"kind": "ESSAY_GRADING", "first": 10, "after": first["pageInfo"]["endCursor"]},
            token=student.token,
        )
    )["creditHistory"]
    assert [(e["node"]["type"], e["node"]["delta"]) for e in rest["edges"]] == [("SPEND", -1), ("GRANT", 5)]
    assert rest["pageInfo"]["hasNextPage"] is False
    everything = (await gql.data(HISTORY, {"first": 50}, token=student.token))["creditHistory"]["edges"]
    assert len(everything) == 6  # two free grants and four spends, and nothing of the other user
    assert {e["node"]["kind"] for e in everything} == {"ESSAY_GRADING", "SUMMARY"}
    other_history = (await gql.data(HISTORY, {"first": 50}, token=other.token))["creditHistory"]["edges"]
    assert {e["node"]["id"] for e in other_history}.isdisjoint({e["node"]["id"] for e in everything})


async def test_payments_are_only_the_users_own(gql: GraphQLClient) -> None:
    student = await make_account()
    payments = await gql.data(
        "{ payments { edges { node { id } } pageInfo { hasNextPage } } }", token=student.token
    )
    assert payments == {"payments": {"edges": [], "pageInfo": {"hasNextPage": False}}}


# The admin's grant


async def test_an_admin_grants_credits_to_a_user(gql: GraphQLClient) -> None:
    admin, student = await make_account(Role.ADMIN), await make_account()
    variables = {"user": student.id, "kind": "QUIZ_GENERATION", "amount": 8, "reason": "support ticket 1234"}
    balance = (await gql.data(GRANT, variables, token=admin.token))["grantCredits"]
    assert balance == {"kind": "QUIZ_GENERATION", "remaining": 10, "unlimited": False}
    async with read_session() as db:
        entry = (
            await db.execute(select(CreditEntry).where(col(CreditEntry.reason) == "support ticket 1234"))
        ).scalar_one()
    assert (entry.user_id, entry.delta, entry.actor_id) == (student.user.id, 8, admin.user.id)


@pytest.mark.parametrize("amount", [0, -5, 1_000_000])
async def test_a_grant_that_is_not_a_sensible_positive_amount_is_refused(
    gql: GraphQLClient, amount: int
) -> None:
    admin, student = await make_account(Role.ADMIN), await make_account()
    variables = {"user": student.id, "kind": "SUMMARY", "amount": amount, "reason": "oops"}
    error = await gql.error(GRANT, variables, token=admin.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "amount")
    assert await ledger(student) == []


async def test_only_admins_grant_credits(gql: GraphQLClient) -> None:
    student = await make_account()
    instructor = await make_account(Role.INSTRUCTOR)
    variables = {"user": student.id, "kind": "SUMMARY", "amount": 100, "reason": "for me"}
    for caller in (student, instructor):
        error = await gql.error(GRANT, variables, token=caller.token)
        assert error_code(error) == "FORBIDDEN"
    assert error_code(await gql.error(GRANT, variables)) == "UNAUTHENTICATED"
    assert await ledger(student) == []


async def test_a_grant_to_nobody_is_not_found(gql: GraphQLClient) -> None:
    admin = await make_account(Role.ADMIN)
    for user in (str(uuid.uuid4()), "not-an-id"):
        variables = {"user": user, "kind": "SUMMARY", "amount": 1, "reason": "r"}
        assert error_code(await gql.error(GRANT, variables, token=admin.token)) == "NOT_FOUND"
    async with read_session() as db:
        assert (await db.execute(select(func.count()).select_from(CreditEntry))).scalar_one() == 0


# Atomic across processes


async def test_fifty_spends_against_ten_in_two_processes_succeed_exactly_ten_times(
    gql: GraphQLClient, api_url: str
) -> None:
    # Given a student with 10 essay gradings left (5 free + 5 granted by an admin)
    admin, student = await make_account(Role.ADMIN), await make_account()
    variables = {"user": student.id, "kind": "ESSAY_GRADING", "amount": 5, "reason": "top-up"}
    assert (await gql.data(GRANT, variables, token=admin.token))["grantCredits"]["remaining"] == 10
    headers = {"Authorization": f"Bearer {student.token}"}
    async with (
        api_process() as other_url,
        httpx.AsyncClient(base_url=api_url, timeout=60) as first,
        httpx.AsyncClient(base_url=other_url, timeout=60) as second,
    ):

        async def spend(http: httpx.AsyncClient, i: int) -> dict[str, object]:
            payload = {"query": SPEND, "variables": {"kind": "ESSAY_GRADING", "key": f"race-{i}"}}
            body: dict[str, object] = (await http.post("/graphql", json=payload, headers=headers)).json()
            return body

        # When 50 different spends race, split over both api processes
        results = await asyncio.gather(*(spend(first if i % 2 else second, i) for i in range(50)))
    # Then exactly 10 succeeded, the other 40 were PAYMENT_REQUIRED, and the balance is exactly zero
    succeeded = [r for r in results if "errors" not in r]
    codes = {r["errors"][0]["extensions"]["code"] for r in results if "errors" in r}  # type: ignore[index]
    assert len(succeeded) == 10
    assert codes == {"PAYMENT_REQUIRED"}
    assert (await ledger_sums(student))["ESSAY_GRADING"] == 0
    assert len([row for row in await ledger(student) if row[1] == "SPEND"]) == 10


async def test_payment_required_is_the_domain_error_of_an_empty_balance() -> None:
    student = await make_account()
    async with transaction() as db:
        for i in range(2):
            await credits.spend(db, student.user.id, CreditKind.QUIZ_GENERATION, "quiz", f"q{i}")
    async with transaction() as db:
        with pytest.raises(PaymentRequired):
            await credits.spend(db, student.user.id, CreditKind.QUIZ_GENERATION, "quiz", "q3")
