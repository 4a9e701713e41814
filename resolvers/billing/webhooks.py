"""Stripe's events, each applied exactly once and in any order.

`process_event` writes the event id into `stripe_events` in the same transaction as its effects: a
duplicate delivery, even one racing on another api process, waits on that row and then finds it there.
All events of one Stripe customer are serialised by a transaction-scoped advisory lock.

Order does not matter:
- a subscription keeps the state of the newest object seen (`state_at`, the event's `created`); an older
  event never moves it back, one from the same second leaves it as is and asks the worker to re-fetch the
  subscription from Stripe, and `canceled` is final;
- an invoice, a checkout or a refund may come before its subscription or its payment: the user is found
  through our customer, or the metadata our checkout put on the subscription (which Stripe copies onto
  its invoices); the row it needs is created from what the event carries, and later events complete it;
- credits are granted once per invoice and clawed back once per refunded invoice, whichever comes first.

The invoice and charge events are applied in `invoices`; both modules find our rows through `matching`
and read Stripe's objects with `stripe_objects`.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import transaction
from models.base import utcnow
from models.billing import BillingStatus, BillingSubscription, Plan, StripeEvent
from resolvers import notifications
from resolvers.billing import invoices
from resolvers.billing.matching import (
    lock_customer,
    locked_customer,
    placeholder,
    plan_from_metadata,
    plan_of_price,
    refresh_later,
    subscription_row,
    user_for,
)
from resolvers.billing.stripe_objects import Event, first_of, id_of, metadata_of, time_of

logger = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Event], Awaitable[str]]

_STATUSES = {
    "trialing": BillingStatus.TRIALING,
    "active": BillingStatus.ACTIVE,
    "past_due": BillingStatus.PAST_DUE,
    "unpaid": BillingStatus.PAST_DUE,
    "paused": BillingStatus.PAST_DUE,
    "canceled": BillingStatus.CANCELED,
    "incomplete_expired": BillingStatus.CANCELED,
    "incomplete": BillingStatus.INCOMPLETE,
}


async def process_event(event: Event) -> str:
    """Applies a verified event unless its id was processed before; returns what was done."""
    data_object: dict[str, Any] = event["data"]["object"]
    object_id = data_object.get("id")
    async with transaction() as db:
        first = (
            await db.execute(
                insert(StripeEvent)
                .values(
                    id=event["id"],
                    type=event["type"][:100],
                    created=event["created"],
                    object_id=object_id if isinstance(object_id, str) else None,
                    outcome="processing",
                    processed_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(col(StripeEvent.id))
            )
        ).scalar_one_or_none()
        if first is None:
            return "duplicate"
        handler = _HANDLERS.get(event["type"])
        outcome = await handler(db, event) if handler else "ignored: not a handled type"
        await db.execute(
            update(StripeEvent).where(col(StripeEvent.id) == event["id"]).values(outcome=outcome[:200])
        )
    logger.info("stripe event %s %s: %s", event["id"], event["type"], outcome)
    return outcome


# Subscriptions


async def apply_subscription(
    db: AsyncSession, subscription: dict[str, Any], state_at: int, *, fetched: bool
) -> str:
    """Stores a subscription object seen at `state_at` unless a newer state is stored already.

    `fetched` objects come straight from Stripe's API (a re-fetch, or the answer to our own update), so
    they are at least as new as any event of the same second.
    """
    found = await locked_customer(db, subscription, metadata_of(subscription))
    if isinstance(found, str):
        return found
    customer_id, user_id = found
    status = _STATUSES.get(str(subscription.get("status")))
    if status is None:
        return f"ignored: unknown status {subscription.get('status')!r}"
    row = await subscription_row(db, subscription["id"])
    plan = await _plan_of_subscription(db, subscription, row)
    if plan is None:
        return "ignored: no plan matches the subscription"
    if row is None:
        row = BillingSubscription(
            user_id=user_id,
            plan_id=plan.id,
            stripe_subscription_id=subscription["id"],
            stripe_customer_id=customer_id,
            status=status,
        )
        db.add(row)
    elif state_at < row.state_at or (state_at == row.state_at and not fetched):
        if state_at == row.state_at:
            refresh_later(db, row.stripe_subscription_id, state_at)
            return "deferred: as new as the stored state; re-fetching"
        return "ignored: older than the stored state"
    elif row.status is BillingStatus.CANCELED and status is not BillingStatus.CANCELED:
        return "ignored: the subscription is canceled"
    item = first_of(subscription, "items")
    row.plan_id = plan.id
    row.status = status
    row.current_period_start = time_of(
        subscription.get("current_period_start") or item.get("current_period_start")
    )
    row.current_period_end = time_of(subscription.get("current_period_end") or item.get("current_period_end"))
    row.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    row.trial_end = time_of(subscription.get("trial_end"))
    row.canceled_at = time_of(subscription.get("canceled_at") or subscription.get("ended_at"))
    row.state_at = state_at
    row.updated_at = utcnow()
    await db.flush()
    return f"subscription {status.value}"


async def _subscription_event(db: AsyncSession, event: Event) -> str:
    return await apply_subscription(db, event["data"]["object"], event["created"], fetched=False)


async def _trial_will_end(db: AsyncSession, event: Event) -> str:
    """Stripe's notice three days before a trial ends: the state as any subscription event, and the user
    told once per trial end (a moved trial end tells them again)."""
    subscription: dict[str, Any] = event["data"]["object"]
    outcome = await apply_subscription(db, subscription, event["created"], fetched=False)
    row = await subscription_row(db, subscription["id"])
    trial_end = time_of(subscription.get("trial_end"))
    if row is None or trial_end is None:
        return outcome
    plan = await db.get(Plan, row.plan_id)
    await notifications.notify(
        db,
        row.user_id,
        "trial_ending",
        variables={"plan": plan.name if plan else "StudyMate", "date": trial_end.date().isoformat()},
        dedupe_key=f"trial_ending:{subscription['id']}:{int(trial_end.timestamp())}",
    )
    return f"{outcome}; trial ending notified"


async def _plan_of_subscription(
    db: AsyncSession, subscription: dict[str, Any], row: BillingSubscription | None
) -> Plan | None:
    """The price's plan first (the portal can switch plans), then our metadata, then what we had."""
    price = first_of(subscription, "items").get("price") or {}
    plan = await plan_of_price(db, price) or await plan_from_metadata(db, metadata_of(subscription))
    if plan is None and row is not None:
        plan = await db.get(Plan, row.plan_id)
    return plan


# Checkout


async def _checkout_completed(db: AsyncSession, event: Event) -> str:
    session: dict[str, Any] = event["data"]["object"]
    customer_id = id_of(session.get("customer"))
    subscription_id = id_of(session.get("subscription"))
    if session.get("mode") != "subscription" or customer_id is None:
        return "ignored: not a subscription checkout"
    await lock_customer(db, customer_id)
    metadata = {"user_id": session.get("client_reference_id"), **metadata_of(session)}
    user_id = await user_for(db, customer_id, metadata)
    if user_id is None:
        return "ignored: not one of our customers"
    if subscription_id is None or await subscription_row(db, subscription_id) is not None:
        return "customer linked"
    plan = await plan_from_metadata(db, metadata)
    if plan is None:
        return "ignored: no plan in the metadata"
    await placeholder(db, user_id, plan, subscription_id, customer_id, BillingStatus.INCOMPLETE, None, None)
    return "subscription awaited; re-fetching"


_HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_event,
    "customer.subscription.updated": _subscription_event,
    "customer.subscription.deleted": _subscription_event,
    "customer.subscription.trial_will_end": _trial_will_end,
    "invoice.paid": invoices.invoice_paid,
    "invoice.payment_failed": invoices.invoice_payment_failed,
    "charge.refunded": invoices.charge_refunded,
}
