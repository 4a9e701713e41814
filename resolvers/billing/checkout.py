"""What a user does with Stripe (checkout, cancel, the customer portal) and what they read back.

The Stripe calls run outside any database transaction, so no connection is held while Stripe answers;
each operation opens the short sessions it needs. Nothing here changes a plan, a status, a payment or a
credit of ours directly: those follow from Stripe's webhooks (or from Stripe's own answer to our update).
"""

import time
import uuid
from dataclasses import dataclass

import stripe
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from stripe.params.checkout import SessionCreateParams, SessionCreateParamsSubscriptionData

from core import text
from core.auth import Actor, require_user
from core.db import read_session, transaction
from core.errors import BadInput, Conflict, NotFound
from core.pagination import Page, paginate
from core.settings import get_settings
from core.stripe import stripe_client, unavailable
from models.accounts import User
from models.base import utcnow
from models.billing import LIVE_STATUSES, BillingCustomer, BillingStatus, BillingSubscription, Payment, Plan
from resolvers.billing import plans, webhooks

# A checkout is refused while one of these runs: one paid subscription per user.
_BLOCKING = (BillingStatus.TRIALING, BillingStatus.ACTIVE, BillingStatus.PAST_DUE)
MAX_PROMOTION_CODE_LENGTH = 100


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


@dataclass(frozen=True)
class SubscriptionView:
    subscription: BillingSubscription
    plan: Plan


async def start_checkout(actor: Actor, plan_code: str, promotion_code: str | None) -> Checkout:
    """A Stripe Checkout Session for `plan_code`; the subscription arrives later through the webhooks."""
    user = require_user(actor)
    client = stripe_client()
    async with read_session() as db:
        plan = await plans.plan_by_code(db, plan_code)
        if plan is None or not plan.is_paid or not plan.active:
            raise BadInput(f"Unknown plan {plan_code!r}", field="planCode")
        if await _subscription(db, user.user_id, _BLOCKING) is not None:
            raise Conflict("You already have a subscription; change it in the billing portal")
        had_subscription = await _subscription(db, user.user_id, None) is not None
    customer_id = await _customer(user.user_id)
    metadata = {"user_id": str(user.user_id), "plan_code": plan.code}
    subscription_data: SessionCreateParamsSubscriptionData = {"metadata": metadata}
    if plan.trial_days and not had_subscription:
        subscription_data["trial_period_days"] = plan.trial_days
    return_url = get_settings().billing_return_url
    params: SessionCreateParams = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(user.user_id),
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    # The minor unit, as stored: KRW has none, so 9,900 KRW is 9900 here too.
                    "unit_amount": plan.price,
                    "currency": plan.currency.lower(),
                    "recurring": {"interval": "month" if plan.interval.value == "MONTH" else "year"},
                    "product_data": {"name": plan.name, "metadata": {"plan_code": plan.code}},
                },
            }
        ],
        "metadata": metadata,
        "subscription_data": subscription_data,
        "success_url": f"{return_url}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{return_url}?checkout=canceled",
    }
    if promotion_code is not None:
        params["discounts"] = [{"promotion_code": await _promotion_code_id(client, promotion_code)}]
    else:
        params["allow_promotion_codes"] = True
    try:
        session = await client.v1.checkout.sessions.create_async(params)
    except stripe.InvalidRequestError as error:
        if promotion_code is not None and (error.param or "").startswith("discounts"):
            raise BadInput("This promotion code cannot be used", field="promotionCode") from error
        raise unavailable(error) from error
    except stripe.StripeError as error:
        raise unavailable(error) from error
    if not session.url:
        raise unavailable(stripe.APIError("the checkout session has no url"))
    return Checkout(id=session.id, url=session.url)


async def cancel_subscription(actor: Actor) -> SubscriptionView:
    """Cancels at the end of the paid period, through Stripe; Stripe's answer is stored as the new state."""
    user = require_user(actor)
    client = stripe_client()
    async with read_session() as db:
        row = await _subscription(db, user.user_id, _BLOCKING)
    if row is None:
        raise NotFound("Subscription")
    try:
        updated = await client.v1.subscriptions.update_async(
            row.stripe_subscription_id, {"cancel_at_period_end": True}
        )
    except stripe.StripeError as error:
        raise unavailable(error) from error
    async with transaction() as db:
        await webhooks.apply_subscription(db, updated.to_dict(), int(time.time()), fetched=True)
        stored = await db.get(BillingSubscription, row.id, populate_existing=True)
        assert stored is not None
        plan = await db.get(Plan, stored.plan_id)
        assert plan is not None
    return SubscriptionView(stored, plan)


async def open_billing_portal(actor: Actor) -> str:
    user = require_user(actor)
    client = stripe_client()
    customer_id = await _customer(user.user_id)
    try:
        portal = await client.v1.billing_portal.sessions.create_async(
            {"customer": customer_id, "return_url": get_settings().billing_return_url}
        )
    except stripe.StripeError as error:
        raise unavailable(error) from error
    return portal.url


async def my_subscription(db: AsyncSession, actor: Actor) -> SubscriptionView | None:
    """The running subscription, else the latest one; None for a user who never subscribed (on free)."""
    user = require_user(actor)
    row = await _subscription(db, user.user_id, LIVE_STATUSES) or await _subscription(db, user.user_id, None)
    if row is None:
        return None
    plan = await db.get(Plan, row.plan_id)
    assert plan is not None
    return SubscriptionView(row, plan)


async def payments(db: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[Payment]:
    user = require_user(actor)
    statement = select(Payment).where(col(Payment.user_id) == user.user_id)
    keys = [col(Payment.created_at), col(Payment.id)]
    return await paginate(db, statement, keys, first=first, after=after)


async def _subscription(
    db: AsyncSession, user_id: uuid.UUID, statuses: tuple[BillingStatus, ...] | None
) -> BillingSubscription | None:
    statement = select(BillingSubscription).where(col(BillingSubscription.user_id) == user_id)
    if statuses is not None:
        statement = statement.where(col(BillingSubscription.status).in_(statuses))
    statement = statement.order_by(col(BillingSubscription.created_at).desc()).limit(1)
    return (await db.execute(statement)).scalar_one_or_none()


async def _customer(user_id: uuid.UUID) -> str:
    """The user's one Stripe customer, created on first need.

    Concurrent first checkouts send Stripe the same idempotency key, so they get the same customer.
    """
    async with read_session() as db:
        existing = await db.get(BillingCustomer, user_id)
        user = await db.get(User, user_id)
    if existing is not None:
        return existing.stripe_customer_id
    if user is None:
        raise NotFound("User")
    try:
        customer = await stripe_client().v1.customers.create_async(
            {"email": user.email, "name": user.name, "metadata": {"user_id": str(user_id)}},
            {"idempotency_key": f"studymate-customer-{user_id}"},
        )
    except stripe.StripeError as error:
        raise unavailable(error) from error
    async with transaction() as db:
        await db.execute(
            insert(BillingCustomer)
            .values(user_id=user_id, stripe_customer_id=customer.id, created_at=utcnow())
            .on_conflict_do_nothing()
        )
        stored = await db.get(BillingCustomer, user_id, populate_existing=True)
    if stored is None:
        raise Conflict("This Stripe customer belongs to another user")
    return stored.stripe_customer_id


async def _promotion_code_id(client: stripe.StripeClient, code: str) -> str:
    """The id of an active promotion code as customers type it; BadInput when Stripe knows none."""
    code = text.required(code, "promotionCode", max_length=MAX_PROMOTION_CODE_LENGTH)
    try:
        found = await client.v1.promotion_codes.list_async({"code": code, "active": True, "limit": 1})
    except stripe.StripeError as error:
        raise unavailable(error) from error
    if not found.data:
        raise BadInput("This promotion code cannot be used", field="promotionCode")
    return found.data[0].id
