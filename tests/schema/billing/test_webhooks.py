"""POST /webhooks/stripe: signatures, exactly-once processing, and events in any order."""

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.db import read_session
from core.settings import get_settings
from models.billing import BillingSubscription, CreditEntry, Payment, StripeEvent
from tests.helpers.billing import checkout_customer, configured_stripe, credits_of, ledger
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account, make_account
from tests.helpers.fake_stripe_server import FakeStripeServer
from tests.helpers.jobs import run_jobs
from tests.helpers.processes import api_process
from tests.helpers.stripe_events import WEBHOOK_SECRET, Lifetime, deliver, event, signature
from workers.billing import refresh_subscription

MY_SUBSCRIPTION = """{ mySubscription { status cancelAtPeriodEnd currentPeriodEnd plan { code } } }"""
PAYMENTS = "{ payments { edges { node { amount currency status description } } } }"


@pytest.fixture
async def stripe_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeStripeServer]:
    async with configured_stripe(monkeypatch) as fake:
        yield fake


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


async def _count(model: type) -> int:
    async with read_session() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def _customer_lifetime(gql: GraphQLClient, account: Account, **overrides: Any) -> Lifetime:
    """A user who went through checkout, and the subscription Stripe would then send events about."""
    return Lifetime(account.id, customer=await checkout_customer(gql, account), **overrides)


async def _state(gql: GraphQLClient, account: Account) -> dict[str, Any]:
    """Everything the events decide for a user: subscription, payments and the credit ledger."""
    return {
        "subscription": (await gql.data(MY_SUBSCRIPTION, token=account.token))["mySubscription"],
        "payments": [e["node"] for e in (await gql.data(PAYMENTS, token=account.token))["payments"]["edges"]],
        "ledger": await ledger(account),
    }


# Signatures


async def test_a_correctly_signed_event_is_processed(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    response = await deliver(
        http, event("customer.subscription.created", lifetime.subscription(), lifetime.start)
    )
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "subscription ACTIVE"}
    mine = (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]
    assert (mine["status"], mine["plan"]["code"]) == ("ACTIVE", "premium_monthly")


def _bad_headers(kind: str, payload: str) -> dict[str, str]:
    if kind == "wrong-secret":
        return {"Stripe-Signature": signature(payload, "whsec_someone_else")}
    if kind == "stale":
        # Signed with the right secret, 301 s ago: beyond the 300 s tolerance
        return {"Stripe-Signature": signature(payload, WEBHOOK_SECRET, int(time.time()) - 301)}
    if kind == "garbage":
        return {"Stripe-Signature": "t=abc,v1=zz"}
    return {}


@pytest.mark.parametrize("kind", ["wrong-secret", "stale", "missing", "garbage"])
async def test_a_bad_signature_is_400_and_changes_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer, kind: str
) -> None:
    # Given a real event for a real customer
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    payload = json.dumps(event("invoice.paid", lifetime.invoice(), lifetime.start))
    # When it arrives with a bad signature
    response = await http.post("/webhooks/stripe", content=payload, headers=_bad_headers(kind, payload))
    # Then it is refused and nothing was recorded or granted
    assert response.status_code == 400
    assert (await _count(StripeEvent), await _count(Payment), await _count(CreditEntry)) == (0, 0, 0)


async def test_a_signed_body_that_is_not_a_json_event_is_400(
    http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    for payload in ("not json at all", json.dumps({"hello": "world"}), json.dumps([1, 2])):
        response = await http.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature(payload)}
        )
        assert response.status_code == 400, payload
    assert await _count(StripeEvent) == 0


async def test_without_a_webhook_secret_webhooks_are_unavailable(http: httpx.AsyncClient) -> None:
    assert get_settings().stripe_webhook_secret is None
    payload = json.dumps(event("invoice.paid", {"id": "in_1"}, int(time.time())))
    response = await http.post(
        "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature(payload)}
    )
    assert response.status_code == 503
    assert response.json()["error"] == "BILLING_UNAVAILABLE"
    assert await _count(StripeEvent) == 0


# Exactly once


async def test_the_same_event_delivered_three_times_at_once_to_two_processes_counts_once(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    # Given a paid invoice event for a customer, and a second api process
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    paid = event("invoice.paid", lifetime.invoice(), lifetime.start)
    async with (
        api_process(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET) as other_url,
        httpx.AsyncClient(base_url=other_url, timeout=30) as other,
    ):
        # When Stripe delivers it three times at the same moment, to both processes
        responses = await asyncio.gather(deliver(http, paid), deliver(other, paid), deliver(http, paid))
    # Then every delivery is acknowledged, and exactly one applied it
    assert [r.status_code for r in responses] == [200, 200, 200]
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate", "duplicate", "invoice paid; credits granted"]
    assert await _count(StripeEvent) == 1
    assert await _count(Payment) == 1
    assert await ledger(student) == [
        ("ESSAY_GRADING", "GRANT", 100, _grant_reason(lifetime, "100 credits")),
        ("QUIZ_GENERATION", "GRANT", 50, _grant_reason(lifetime, "50 credits")),
        ("SUMMARY", "GRANT", 0, _grant_reason(lifetime, "unlimited")),
    ]


def _grant_reason(lifetime: Lifetime, words: str) -> str:
    start = datetime.fromtimestamp(lifetime.start, UTC)
    end = datetime.fromtimestamp(lifetime.period_end, UTC)
    return f"Premium (monthly): {words} for {start:%Y-%m-%d} to {end:%Y-%m-%d}"


# Any order


async def test_a_shuffled_doubled_lifetime_ends_as_the_ordered_one(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    # Given the ordered stream of a whole subscription lifetime, applied for one user
    ordered_user = await make_account()
    ordered = await _customer_lifetime(gql, ordered_user)
    for stripe_event in ordered.stream():
        assert (await deliver(http, stripe_event)).status_code == 200
    expected = await _state(gql, ordered_user)
    # (which is: canceled, refunded, and the unspent credits of the period taken back)
    assert expected["subscription"]["status"] == "CANCELED"
    assert expected["subscription"]["cancelAtPeriodEnd"] is True
    assert expected["payments"] == [
        {
            "amount": 9900,
            "currency": "KRW",
            "status": "REFUNDED",
            "description": _grant_reason(ordered, "").replace(":  for", ","),
        }
    ]
    assert [(kind, kind_type, delta) for kind, kind_type, delta, _ in expected["ledger"]] == [
        ("ESSAY_GRADING", "CLAWBACK", -100),
        ("ESSAY_GRADING", "GRANT", 100),
        ("QUIZ_GENERATION", "CLAWBACK", -50),
        ("QUIZ_GENERATION", "GRANT", 50),
        ("SUMMARY", "GRANT", 0),
    ]
    for seed in range(4):
        # When the same lifetime (for another user, at the same times) arrives twice, in a random order
        user = await make_account()
        lifetime = await _customer_lifetime(gql, user, start=ordered.start)
        deliveries = lifetime.stream() * 2
        random.Random(seed).shuffle(deliveries)
        for stripe_event in deliveries:
            assert (await deliver(http, stripe_event)).status_code == 200
        # Then it ends in the same subscription, payments and ledger
        assert await _state(gql, user) == expected, f"seed {seed}: {[e['type'] for e in deliveries]}"


async def test_a_shuffled_lifetime_delivered_all_at_once_ends_as_the_ordered_one(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    ordered_user, racing_user = await make_account(), await make_account()
    ordered = await _customer_lifetime(gql, ordered_user)
    for stripe_event in ordered.stream():
        await deliver(http, stripe_event)
    racing = await _customer_lifetime(gql, racing_user, start=ordered.start)
    deliveries = racing.stream() * 2
    random.Random(7).shuffle(deliveries)
    responses = await asyncio.gather(*(deliver(http, e) for e in deliveries))
    assert {r.status_code for r in responses} == {200}
    assert await _state(gql, racing_user) == await _state(gql, ordered_user)


async def test_an_invoice_before_its_subscription_links_through_the_metadata(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    # Given a user whose first event is the paid invoice (the subscription's events are late)
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    stripe_fake.subscriptions[lifetime.subscription_id] = lifetime.subscription("active")
    # When it arrives
    response = await deliver(http, event("invoice.paid", lifetime.invoice(), lifetime.start + 1))
    # Then the invoice found its user and plan through the subscription metadata Stripe copied onto it
    assert response.json()["outcome"] == "invoice paid; credits granted"
    credits = await credits_of(gql, student)
    assert credits["QUIZ_GENERATION"]["remaining"] == 50
    assert credits["SUMMARY"]["unlimited"] is True
    assert credits["QUIZ_GENERATION"]["resetsAt"].startswith(_iso_date(lifetime.period_end))
    mine = (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]
    assert (mine["status"], mine["plan"]["code"]) == ("ACTIVE", "premium_monthly")
    # And the worker re-fetched the subscription from Stripe to settle the doubt
    await run_jobs()
    assert stripe_fake.calls("GET", f"/v1/subscriptions/{lifetime.subscription_id}")
    async with read_session() as db:
        row = (await db.execute(select(BillingSubscription))).scalar_one()
    assert row.state_at >= int(time.time()) - 60
    # And the subscription's own (older) created event, arriving last, changes nothing
    late = await deliver(
        http, event("customer.subscription.created", lifetime.subscription("incomplete"), lifetime.start)
    )
    assert late.json()["outcome"] == "ignored: older than the stored state"
    assert (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]["status"] == "ACTIVE"


def _iso_date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def test_a_late_older_event_never_moves_the_state_back(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    # Given the subscription was updated to cancel at period end (newest), then deleted
    newer = event(
        "customer.subscription.updated",
        lifetime.subscription("active", cancel_at_period_end=True),
        lifetime.start + 10,
    )
    await deliver(http, newer)
    # When an older update (not cancelling) arrives late
    older = event("customer.subscription.updated", lifetime.subscription("past_due"), lifetime.start + 5)
    response = await deliver(http, older)
    # Then it is recorded as seen but the newer state stays
    assert response.json()["outcome"] == "ignored: older than the stored state"
    mine = (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]
    assert (mine["status"], mine["cancelAtPeriodEnd"]) == ("ACTIVE", True)
    # And once deleted, even a newer non-final state does not bring it back
    await deliver(
        http, event("customer.subscription.deleted", lifetime.subscription("canceled"), lifetime.start + 20)
    )
    revived = await deliver(
        http, event("customer.subscription.updated", lifetime.subscription("active"), lifetime.start + 30)
    )
    assert revived.json()["outcome"] == "ignored: the subscription is canceled"
    assert (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]["status"] == "CANCELED"


async def test_two_states_of_the_same_second_are_settled_by_a_refetch(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    second = lifetime.start + 3
    await deliver(http, event("customer.subscription.created", lifetime.subscription("incomplete"), second))
    # When another state of the same second arrives, we cannot tell which is newer
    tie = await deliver(http, event("customer.subscription.updated", lifetime.subscription("active"), second))
    assert tie.json()["outcome"] == "deferred: as new as the stored state; re-fetching"
    assert (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]["status"] == "INCOMPLETE"
    # Then the worker asks Stripe, and Stripe's answer is stored
    stripe_fake.subscriptions[lifetime.subscription_id] = lifetime.subscription("active")
    await run_jobs()
    assert (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]["status"] == "ACTIVE"


async def test_checkout_completed_links_the_subscription_before_its_events(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    response = await deliver(
        http, event("checkout.session.completed", lifetime.checkout_completed(), lifetime.start)
    )
    assert response.json()["outcome"] == "subscription awaited; re-fetching"
    mine = (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]
    assert (mine["status"], mine["plan"]["code"]) == ("INCOMPLETE", "premium_monthly")
    await deliver(
        http, event("customer.subscription.created", lifetime.subscription("trialing"), lifetime.start)
    )
    assert (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]["status"] == "TRIALING"


async def test_a_failed_payment_then_a_paid_retry_is_one_succeeded_payment(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    failed = event(
        "invoice.payment_failed", {**lifetime.invoice(), "status": "open", "amount_paid": 0}, lifetime.start
    )
    await deliver(http, failed)
    payments = (await gql.data(PAYMENTS, token=student.token))["payments"]["edges"]
    assert [(e["node"]["amount"], e["node"]["status"]) for e in payments] == [(9900, "FAILED")]
    assert await _count(CreditEntry) == 0
    notices = await gql.data("{ notifications { edges { node { kind title body } } } }", token=student.token)
    [notice] = [e["node"] for e in notices["notifications"]["edges"] if e["node"]["kind"] == "payment_failed"]
    assert "9,900 KRW" in notice["body"]
    await deliver(http, event("invoice.paid", lifetime.invoice(), lifetime.start + 60))
    late_failure = await deliver(
        http, event("invoice.payment_failed", lifetime.invoice(), lifetime.start + 30)
    )
    assert late_failure.json()["outcome"] == "ignored: the invoice is paid already"
    payments = (await gql.data(PAYMENTS, token=student.token))["payments"]["edges"]
    assert [(e["node"]["amount"], e["node"]["status"]) for e in payments] == [(9900, "SUCCEEDED")]


async def test_a_trial_ending_notice_tells_the_user_once_per_trial_end(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    # Given a trialing subscription whose trial ends on 2026-12-06
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    trial_end = int(datetime(2026, 12, 6, 9, tzinfo=UTC).timestamp())
    trialing = {**lifetime.subscription("trialing"), "trial_end": trial_end}
    await deliver(http, event("customer.subscription.created", trialing, lifetime.start))
    # When Stripe sends its notice, twice (two deliveries of two events)
    for offset in (10, 20):
        notice = event("customer.subscription.trial_will_end", trialing, lifetime.start + offset)
        response = await deliver(http, notice)
        assert response.json()["outcome"] == "subscription TRIALING; trial ending notified"
    # Then the user has one in-app notice naming the plan and the date, and the state is unchanged
    notices = await gql.data("{ notifications { edges { node { kind body } } } }", token=student.token)
    bodies = [
        e["node"]["body"] for e in notices["notifications"]["edges"] if e["node"]["kind"] == "trial_ending"
    ]
    assert len(bodies) == 1 and "2026-12-06" in bodies[0], bodies
    assert (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]["status"] == "TRIALING"


async def test_a_refund_claws_back_only_the_unspent_credits(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    # Given a paid period of which 3 quiz generations were used
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    await deliver(http, event("invoice.paid", lifetime.invoice(), lifetime.start))
    spend = (
        "mutation($key: String!) { spendCredit(kind: QUIZ_GENERATION, idempotencyKey: $key) { remaining } }"
    )
    for key in ("a", "b", "c"):
        await gql.data(spend, {"key": key}, token=student.token)
    # When the payment is refunded
    await deliver(http, event("charge.refunded", lifetime.refunded_charge(), lifetime.start + 5))
    # Then the 47 unspent are taken back, the period ends, and the user is on the free month
    quiz = [row for row in await ledger(student) if row[0] == "QUIZ_GENERATION"]
    assert [(t, d) for _, t, d, _ in quiz] == [
        ("CLAWBACK", -47),
        ("GRANT", 50),
        ("SPEND", -1),
        ("SPEND", -1),
        ("SPEND", -1),
    ]
    credits = await credits_of(gql, student)
    assert (credits["QUIZ_GENERATION"]["remaining"], credits["SUMMARY"]["unlimited"]) == (2, False)


async def test_events_of_customers_that_are_not_ours_are_acknowledged_and_ignored(
    http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    stranger = Lifetime("not-a-user-id", customer="cus_stranger")
    response = await deliver(http, event("invoice.paid", stranger.invoice(), stranger.start))
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored: not one of our customers")
    assert (await _count(Payment), await _count(CreditEntry), await _count(BillingSubscription)) == (0, 0, 0)
    unhandled = await deliver(http, event("customer.created", {"id": "cus_x"}, stranger.start))
    assert unhandled.json()["outcome"] == "ignored: not a handled type"


async def test_a_refetch_of_a_subscription_stripe_no_longer_has_changes_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    lifetime = await _customer_lifetime(gql, student)
    await deliver(http, event("checkout.session.completed", lifetime.checkout_completed(), lifetime.start))
    # Stripe answers 404 for the subscription: the job gives up at once instead of retrying
    assert await refresh_subscription({}, lifetime.subscription_id) == "skipped: not found at Stripe"
    mine = (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]
    assert mine["status"] == "INCOMPLETE"
