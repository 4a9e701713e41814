"""Plans, checkout, cancel and the portal through the real `stripe` SDK against a fake Stripe."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from strawberry.types.base import StrawberryObjectDefinition

from core.auth import Role
from core.db import read_session, transaction
from core.settings import get_settings
from models.billing import BillingCustomer, BillingSubscription, CreditEntry, Payment
from resolvers.billing.webhooks import apply_subscription
from tests.billing_helpers import START_CHECKOUT, checkout_customer, configured_stripe
from tests.client import GraphQLClient, error_code
from tests.factories import Account, make_account
from tests.fake_stripe_server import FakeStripeServer, PromotionCode
from tests.stripe_events import Lifetime

PLANS = "{ plans { id code name price currency interval trialDays credits features } }"
MY_SUBSCRIPTION = "{ mySubscription { id status cancelAtPeriodEnd currentPeriodEnd plan { code } } }"
CANCEL = "mutation { cancelSubscription { id status cancelAtPeriodEnd plan { code } } }"
PORTAL = "mutation { openBillingPortal }"


@pytest.fixture
async def stripe_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeStripeServer]:
    async with configured_stripe(monkeypatch) as fake:
        yield fake


async def _count(model: type) -> int:
    async with read_session() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def test_plans_are_the_seeded_data_with_amounts_in_the_minor_unit(gql: GraphQLClient) -> None:
    # Given the migrated database, when anyone asks for the plans
    plans = (await gql.data(PLANS))["plans"]
    # Then the three seeded plans answer, KRW amounts as they are (no scaling by 100)
    summary = [(p["code"], p["price"], p["currency"], p["interval"], p["trialDays"]) for p in plans]
    assert summary == [
        ("free", 0, "KRW", "MONTH", 0),
        ("premium_monthly", 9900, "KRW", "MONTH", 7),
        ("premium_yearly", 99000, "KRW", "YEAR", 0),
    ]
    assert plans[0]["credits"] == {"SUMMARY": 5, "QUIZ_GENERATION": 2, "ESSAY_GRADING": 5}
    assert plans[1]["credits"] == {"SUMMARY": None, "QUIZ_GENERATION": 50, "ESSAY_GRADING": 100}
    assert plans[2]["credits"] == plans[1]["credits"]


async def test_checkout_sends_stripe_the_krw_amount_and_our_ids(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    # Given a student
    student = await make_account()
    # When they start a checkout for the monthly plan
    session = (await gql.data(START_CHECKOUT, {"plan": "premium_monthly"}, token=student.token))[
        "startCheckout"
    ]
    # Then Stripe made a customer for them and a subscription-mode session with 9900 KRW, not 990000
    [customer_call] = stripe_fake.calls("POST", "/v1/customers")
    assert customer_call.params["metadata[user_id]"] == student.id
    assert customer_call.idempotency_key == f"studymate-customer-{student.id}"
    [call] = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert call.authorization == "Bearer sk_test_fake_studymate"
    params = call.params
    assert params["mode"] == "subscription"
    assert params["line_items[0][price_data][unit_amount]"] == "9900"
    assert params["line_items[0][price_data][currency]"] == "krw"
    assert params["line_items[0][price_data][recurring][interval]"] == "month"
    assert params["line_items[0][quantity]"] == "1"
    assert params["client_reference_id"] == student.id
    assert params["metadata[user_id]"] == student.id
    assert params["metadata[plan_code]"] == "premium_monthly"
    assert params["subscription_data[metadata][user_id]"] == student.id
    assert params["subscription_data[metadata][plan_code]"] == "premium_monthly"
    assert params["subscription_data[trial_period_days]"] == "7"
    assert params["customer"] == next(iter(stripe_fake.customers))
    assert session["url"] == f"https://checkout.stripe.test/c/pay/{session['id']}"
    # And nothing of the plan changed on our side: no subscription, payment or credit yet
    assert (await _count(BillingSubscription), await _count(Payment), await _count(CreditEntry)) == (0, 0, 0)
    assert (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"] is None


async def test_yearly_checkout_sends_99000_krw_a_year_without_trial(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    await gql.data(START_CHECKOUT, {"plan": "premium_yearly"}, token=student.token)
    [call] = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert call.params["line_items[0][price_data][unit_amount]"] == "99000"
    assert call.params["line_items[0][price_data][recurring][interval]"] == "year"
    assert "subscription_data[trial_period_days]" not in call.params


async def test_one_stripe_customer_per_user_is_reused(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    # Given a student who started a checkout before
    student = await make_account()
    first = await checkout_customer(gql, student)
    # When they start another one, then open the portal
    await gql.data(START_CHECKOUT, {"plan": "premium_yearly"}, token=student.token)
    await gql.data(PORTAL, token=student.token)
    # Then Stripe was asked for a customer once, and both sessions went to that customer
    assert len(stripe_fake.calls("POST", "/v1/customers")) == 1
    sessions = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert [call.params["customer"] for call in sessions] == [first, first]
    assert stripe_fake.calls("POST", "/v1/billing_portal/sessions")[0].params["customer"] == first
    assert await _count(BillingCustomer) == 1


async def test_concurrent_first_checkouts_share_one_customer(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    await asyncio.gather(
        *(gql.data(START_CHECKOUT, {"plan": "premium_monthly"}, token=student.token) for _ in range(4))
    )
    # The same idempotency key made Stripe answer the same customer to every request
    assert len(stripe_fake.customers) == 1
    assert {c.params["customer"] for c in stripe_fake.calls("POST", "/v1/checkout/sessions")} == set(
        stripe_fake.customers
    )


async def test_unknown_or_free_plan_is_bad_user_input_and_stripe_is_not_called(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    for plan in ("platinum", "free"):
        error = await gql.error(START_CHECKOUT, {"plan": plan}, token=student.token)
        assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "planCode")
    assert stripe_fake.requests == []
    assert await _count(BillingCustomer) == 0


async def test_a_promotion_code_stripe_does_not_know_is_bad_user_input(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    error = await gql.error(
        START_CHECKOUT, {"plan": "premium_monthly", "promo": "FREEMONEY"}, token=student.token
    )
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "promotionCode")
    assert stripe_fake.calls("POST", "/v1/checkout/sessions") == []


async def test_a_promotion_code_stripe_rejects_at_checkout_is_bad_user_input(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    stripe_fake.promotion_codes.append(PromotionCode("promo_first", "WELCOME", rejected_at_checkout=True))
    student = await make_account()
    error = await gql.error(
        START_CHECKOUT, {"plan": "premium_monthly", "promo": "WELCOME"}, token=student.token
    )
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "promotionCode")


async def test_a_valid_promotion_code_goes_to_stripe_as_a_discount(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    stripe_fake.promotion_codes.append(PromotionCode("promo_spring", "SPRING"))
    student = await make_account()
    await gql.data(START_CHECKOUT, {"plan": "premium_monthly", "promo": "SPRING"}, token=student.token)
    [call] = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert call.params["discounts[0][promotion_code]"] == "promo_spring"
    # The price is still the plan's: a discount is Stripe's to apply, never a price the client sets
    assert call.params["line_items[0][price_data][unit_amount]"] == "9900"


async def test_without_a_stripe_key_billing_is_unavailable(gql: GraphQLClient) -> None:
    # Given no STRIPE_SECRET_KEY (the test environment has none)
    assert get_settings().stripe_secret_key is None
    student = await make_account()
    # When the user tries every Stripe operation, then each answers BILLING_UNAVAILABLE
    for query, variables in ((START_CHECKOUT, {"plan": "premium_monthly"}), (CANCEL, None), (PORTAL, None)):
        error = await gql.error(query, variables, token=student.token)
        assert error_code(error) == "BILLING_UNAVAILABLE", error
    # And plans and credits still answer: the free plan needs no Stripe
    assert len((await gql.data(PLANS))["plans"]) == 3
    assert await _count(BillingCustomer) == 0


async def test_stripe_failing_is_billing_unavailable(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    stripe_fake.fail(500)
    error = await gql.error(START_CHECKOUT, {"plan": "premium_monthly"}, token=student.token)
    assert error_code(error) == "BILLING_UNAVAILABLE"
    assert await _count(BillingCustomer) == 0


async def test_anonymous_callers_are_unauthenticated(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    for query, variables in (
        (START_CHECKOUT, {"plan": "premium_monthly"}),
        (CANCEL, None),
        (PORTAL, None),
        (MY_SUBSCRIPTION, None),
        ("{ credits { kind } }", None),
        ("{ payments { edges { node { id } } } }", None),
        ("{ creditHistory { edges { node { id } } } }", None),
    ):
        error = await gql.error(query, variables)
        assert error_code(error) == "UNAUTHENTICATED", query
    assert stripe_fake.requests == []


async def test_cancel_sets_cancel_at_period_end_through_stripe(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    # Given a student with an active monthly subscription that Stripe knows
    student = await make_account()
    customer = await checkout_customer(gql, student)
    lifetime = Lifetime(student.id, customer=customer)
    stripe_fake.subscriptions[lifetime.subscription_id] = lifetime.subscription("active")
    async with transaction() as db:
        await apply_subscription(db, lifetime.subscription("active"), lifetime.start, fetched=False)
    # When they cancel
    canceled = (await gql.data(CANCEL, token=student.token))["cancelSubscription"]
    # Then Stripe was asked to cancel at the period's end, and the subscription runs until then
    [call] = stripe_fake.calls("POST", f"/v1/subscriptions/{lifetime.subscription_id}")
    assert call.params == {"cancel_at_period_end": "true"}
    assert canceled["status"] == "ACTIVE"
    assert canceled["cancelAtPeriodEnd"] is True
    assert canceled["plan"]["code"] == "premium_monthly"
    mine = (await gql.data(MY_SUBSCRIPTION, token=student.token))["mySubscription"]
    assert (mine["id"], mine["cancelAtPeriodEnd"]) == (canceled["id"], True)


async def test_cancel_without_a_subscription_is_not_found(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    error = await gql.error(CANCEL, token=student.token)
    assert error_code(error) == "NOT_FOUND"
    assert stripe_fake.requests == []


async def test_cancel_touches_only_the_callers_own_subscription(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    # Given another user's active subscription
    owner = await make_account()
    customer = await checkout_customer(gql, owner)
    lifetime = Lifetime(owner.id, customer=customer)
    stripe_fake.subscriptions[lifetime.subscription_id] = lifetime.subscription("active")
    async with transaction() as db:
        await apply_subscription(db, lifetime.subscription("active"), lifetime.start, fetched=False)
    # When someone else (even an admin) cancels "their" subscription, there is none to cancel
    for other in (await make_account(), await make_account(Role.ADMIN)):
        error = await gql.error(CANCEL, token=other.token)
        assert error_code(error) == "NOT_FOUND"
        assert (await gql.data(MY_SUBSCRIPTION, token=other.token))["mySubscription"] is None
    assert stripe_fake.calls("POST", f"/v1/subscriptions/{lifetime.subscription_id}") == []


async def test_the_billing_portal_returns_stripes_url(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    url = (await gql.data(PORTAL, token=student.token))["openBillingPortal"]
    [call] = stripe_fake.calls("POST", "/v1/billing_portal/sessions")
    assert url.startswith("https://billing.stripe.test/p/session/")
    assert call.params["return_url"] == get_settings().billing_return_url


async def test_a_second_checkout_while_subscribed_is_a_conflict(
    gql: GraphQLClient, stripe_fake: FakeStripeServer
) -> None:
    student = await make_account()
    await _customer_lifetime_applied(gql, student)
    error = await gql.error(START_CHECKOUT, {"plan": "premium_yearly"}, token=student.token)
    assert error_code(error) == "CONFLICT"
    assert len(stripe_fake.calls("POST", "/v1/checkout/sessions")) == 1


async def _customer_lifetime_applied(gql: GraphQLClient, account: Account) -> Lifetime:
    lifetime = Lifetime(account.id, customer=await checkout_customer(gql, account))
    async with transaction() as db:
        await apply_subscription(db, lifetime.subscription("active"), lifetime.start, fetched=False)
    return lifetime


def test_no_mutation_lets_a_user_set_their_plan_price_status_or_credits() -> None:
    # The only billing mutations, and what each accepts: a plan is asked for by code (Stripe sets price and
    # status through the webhooks), a promotion code is Stripe's to accept, credits only go down for the
    # user and up only for an admin.
    from schema import build_schema

    mutation = build_schema().get_type_by_name("Mutation")
    assert isinstance(mutation, StrawberryObjectDefinition)
    arguments = {
        field.python_name: sorted(argument.python_name for argument in field.arguments)
        for field in mutation.fields
    }
    billing_words = (
        "price",
        "credit",
        "discount",
        "refund",
        "subscription",
        "billing",
        "checkout",
    )
    billing = {
        name: args for name, args in arguments.items() if any(word in name.lower() for word in billing_words)
    }
    assert billing == {
        "start_checkout": ["plan_code", "promotion_code"],
        "cancel_subscription": [],
        "open_billing_portal": [],
        "spend_credit": ["idempotency_key", "kind", "reason"],
        "grant_credits": ["amount", "kind", "reason", "user_id"],
    }


async def test_the_sdk_retries_stripes_hiccups_with_the_same_idempotency_key(
    gql: GraphQLClient, stripe_fake: FakeStripeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Stripe answering 500 twice, and the SDK allowed two retries
    monkeypatch.setattr(get_settings(), "stripe_max_network_retries", 2)
    student = await make_account()
    stripe_fake.fail(500, times=2)
    # When the student starts a checkout, then it succeeds on the third attempt
    await gql.data(START_CHECKOUT, {"plan": "premium_monthly"}, token=student.token)
    attempts = stripe_fake.calls("POST", "/v1/customers")
    assert len(attempts) == 3
    assert {attempt.idempotency_key for attempt in attempts} == {f"studymate-customer-{student.id}"}
    assert len(stripe_fake.customers) == 1
