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
"""

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import transaction
from core.jobs import enqueue_after_commit
from models.accounts import User
from models.base import utcnow
from models.billing import (
    BillingCustomer,
    BillingStatus,
    BillingSubscription,
    Payment,
    PaymentStatus,
    Plan,
    StripeEvent,
)
from resolvers import notifications
from resolvers.billing import credits, plans

logger = logging.getLogger(__name__)

REFRESH_JOB = "billing.refresh_subscription"
Event = dict[str, Any]
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
    customer_id = _id(subscription.get("customer"))
    if customer_id is None:
        return "ignored: no customer"
    await lock_customer(db, customer_id)
    user_id = await _user_for(db, customer_id, _metadata(subscription))
    if user_id is None:
        return "ignored: not one of our customers"
    status = _STATUSES.get(str(subscription.get("status")))
    if status is None:
        return f"ignored: unknown status {subscription.get('status')!r}"
    row = await _subscription_row(db, subscription["id"])
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
            _refresh_later(db, row.stripe_subscription_id, state_at)
            return "deferred: as new as the stored state; re-fetching"
        return "ignored: older than the stored state"
    elif row.status is BillingStatus.CANCELED and status is not BillingStatus.CANCELED:
        return "ignored: the subscription is canceled"
    item = _first_item(subscription)
    row.plan_id = plan.id
    row.status = status
    row.current_period_start = _time(
        subscription.get("current_period_start") or item.get("current_period_start")
    )
    row.current_period_end = _time(subscription.get("current_period_end") or item.get("current_period_end"))
    row.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    row.trial_end = _time(subscription.get("trial_end"))
    row.canceled_at = _time(subscription.get("canceled_at") or subscription.get("ended_at"))
    row.state_at = state_at
    row.updated_at = utcnow()
    await db.flush()
    return f"subscription {status.value}"


async def _subscription_event(db: AsyncSession, event: Event) -> str:
    return await apply_subscription(db, event["data"]["object"], event["created"], fetched=False)


async def _plan_of_subscription(
    db: AsyncSession, subscription: dict[str, Any], row: BillingSubscription | None
) -> Plan | None:
    """The price's plan first (the portal can switch plans), then our metadata, then what we had."""
    price = _first_item(subscription).get("price") or {}
    recurring = price.get("recurring") or {}
    if isinstance(price.get("unit_amount"), int) and price.get("currency") and recurring.get("interval"):
        plan = await plans.plan_for_price(db, price["unit_amount"], price["currency"], recurring["interval"])
        if plan is not None:
            return plan
    code = _metadata(subscription).get("plan_code")
    if isinstance(code, str):
        plan = await plans.plan_by_code(db, code)
        if plan is not None and plan.is_paid:
            return plan
    return await db.get(Plan, row.plan_id) if row is not None else None


# Checkout


async def _checkout_completed(db: AsyncSession, event: Event) -> str:
    session: dict[str, Any] = event["data"]["object"]
    customer_id = _id(session.get("customer"))
    subscription_id = _id(session.get("subscription"))
    if session.get("mode") != "subscription" or customer_id is None:
        return "ignored: not a subscription checkout"
    await lock_customer(db, customer_id)
    metadata = {"user_id": session.get("client_reference_id"), **_metadata(session)}
    user_id = await _user_for(db, customer_id, metadata)
    if user_id is None:
        return "ignored: not one of our customers"
    if subscription_id is None or await _subscription_row(db, subscription_id) is not None:
        return "customer linked"
    plan = await _plan_from_metadata(db, metadata)
    if plan is None:
        return "ignored: no plan in the metadata"
    await _placeholder(db, user_id, plan, subscription_id, customer_id, BillingStatus.INCOMPLETE, None, None)
    return "subscription awaited; re-fetching"


# Invoices and payments


async def _invoice_paid(db: AsyncSession, event: Event) -> str:
    invoice: dict[str, Any] = event["data"]["object"]
    found = await _invoice_context(db, invoice)
    if isinstance(found, str):
        return found
    user_id, plan, subscription_id = found
    period_start, period_end = _invoice_period(invoice)
    if (
        subscription_id is not None
        and await _subscription_row(db, subscription_id) is None
        and plan is not None
    ):
        status = BillingStatus.TRIALING if invoice.get("amount_paid") == 0 else BillingStatus.ACTIVE
        await _placeholder(
            db,
            user_id,
            plan,
            subscription_id,
            _id(invoice.get("customer")) or "",
            status,
            period_start,
            period_end,
        )
    payment = None
    amount = int(invoice.get("amount_paid") or 0)
    if amount > 0:
        payment = await _payment(
            db, user_id, invoice, amount, subscription_id, plan, period_start, period_end
        )
        if payment.status is PaymentStatus.FAILED:
            payment.status = PaymentStatus.SUCCEEDED
    outcome = "invoice paid"
    paid_plan = plan is not None and plan.is_paid
    if paid_plan and period_start is not None and period_end is not None:
        assert plan is not None
        if await credits.grant_period(db, user_id, plan, invoice["id"], period_start, period_end):
            outcome += "; credits granted"
    if payment is not None and payment.status is PaymentStatus.REFUNDED:
        await credits.claw_back_period(db, user_id, invoice["id"])
        outcome += "; already refunded, credits clawed back"
    return outcome


async def _invoice_payment_failed(db: AsyncSession, event: Event) -> str:
    invoice: dict[str, Any] = event["data"]["object"]
    found = await _invoice_context(db, invoice)
    if isinstance(found, str):
        return found
    user_id, plan, subscription_id = found
    period_start, period_end = _invoice_period(invoice)
    amount = int(invoice.get("amount_due") or 0)
    payment = await _payment(
        db, user_id, invoice, amount, subscription_id, plan, period_start, period_end, PaymentStatus.FAILED
    )
    if payment.status is not PaymentStatus.FAILED:
        return "ignored: the invoice is paid already"
    # Each failed attempt tells the user once; Stripe retries the payment and the portal fixes the card.
    await notifications.create_in_app(
        db,
        user_id,
        kind="billing.payment_failed",
        title="Your payment did not go through",
        body=f"We could not charge {amount:,} {payment.currency} for {plan.name if plan else 'your plan'}. "
        "Please update your payment method in the billing portal.",
        dedupe_key=f"billing.payment_failed:{invoice['id']}:{invoice.get('attempt_count', 0)}",
    )
    return "invoice payment failed; user notified"


async def _charge_refunded(db: AsyncSession, event: Event) -> str:
    charge: dict[str, Any] = event["data"]["object"]
    customer_id = _id(charge.get("customer"))
    if customer_id is None:
        return "ignored: no customer"
    await lock_customer(db, customer_id)
    user_id = await _user_for(db, customer_id, _metadata(charge))
    if user_id is None:
        return "ignored: not one of our customers"
    invoice_id, intent_id = _id(charge.get("invoice")), _id(charge.get("payment_intent"))
    payment = await _find_payment(db, invoice_id, intent_id, charge["id"])
    if payment is None:
        # The refund came before its invoice: the payment starts here and the invoice completes it.
        payment = Payment(
            user_id=user_id,
            amount=int(charge.get("amount") or 0),
            currency=str(charge.get("currency") or "").upper()[:3],
            status=PaymentStatus.SUCCEEDED,
            description=charge.get("description"),
        )
        db.add(payment)
    payment.stripe_invoice_id = payment.stripe_invoice_id or invoice_id
    payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or intent_id
    payment.stripe_charge_id = payment.stripe_charge_id or charge["id"]
    payment.amount_refunded = max(payment.amount_refunded, int(charge.get("amount_refunded") or 0))
    payment.updated_at = utcnow()
    if not charge.get("refunded"):
        await db.flush()
        return "partially refunded"
    payment.status = PaymentStatus.REFUNDED
    await db.flush()
    if payment.stripe_invoice_id is not None:
        await credits.claw_back_period(db, user_id, payment.stripe_invoice_id)
        return "refunded; credits clawed back"
    return "refunded; the invoice will claw back its credits"


async def _invoice_context(
    db: AsyncSession, invoice: dict[str, Any]
) -> tuple[uuid.UUID, Plan | None, str | None] | str:
    """The user, plan and subscription of an invoice, or why it is ignored."""
    customer_id = _id(invoice.get("customer"))
    if customer_id is None:
        return "ignored: no customer"
    await lock_customer(db, customer_id)
    details = (
        (invoice.get("parent") or {}).get("subscription_details") or invoice.get("subscription_details") or {}
    )
    metadata = {**_metadata(invoice), **(details.get("metadata") or {})}
    user_id = await _user_for(db, customer_id, metadata)
    if user_id is None:
        return "ignored: not one of our customers"
    subscription_id = _id(invoice.get("subscription")) or _id(details.get("subscription"))
    row = await _subscription_row(db, subscription_id) if subscription_id else None
    plan = await db.get(Plan, row.plan_id) if row is not None else None
    plan = plan or await _plan_from_metadata(db, metadata) or await _plan_of_lines(db, invoice)
    return user_id, plan, subscription_id


async def _payment(
    db: AsyncSession,
    user_id: uuid.UUID,
    invoice: dict[str, Any],
    amount: int,
    subscription_id: str | None,
    plan: Plan | None,
    period_start: datetime | None,
    period_end: datetime | None,
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
) -> Payment:
    """The invoice's payment, created or completed; a status already further along is kept."""
    intent_id, charge_id = _invoice_payment_ids(invoice)
    payment = await _find_payment(db, invoice["id"], intent_id, charge_id)
    if payment is None:
        payment = Payment(user_id=user_id, amount=amount, currency="", status=status)
        db.add(payment)
    payment.stripe_invoice_id = payment.stripe_invoice_id or invoice["id"]
    payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or intent_id
    payment.stripe_charge_id = payment.stripe_charge_id or charge_id
    payment.stripe_subscription_id = payment.stripe_subscription_id or subscription_id
    payment.amount = amount
    payment.currency = str(invoice.get("currency") or payment.currency).upper()[:3]
    payment.period_start, payment.period_end = period_start, period_end
    if plan is not None and period_start is not None and period_end is not None:
        payment.description = f"{plan.name}, {period_start:%Y-%m-%d} to {period_end:%Y-%m-%d}"
    created = _time(invoice.get("created"))
    if created is not None:
        payment.created_at = created
    payment.updated_at = utcnow()
    await db.flush()
    return payment


async def _find_payment(
    db: AsyncSession, invoice_id: str | None, intent_id: str | None, charge_id: str | None
) -> Payment | None:
    for column, value in (
        (Payment.stripe_invoice_id, invoice_id),
        (Payment.stripe_payment_intent_id, intent_id),
        (Payment.stripe_charge_id, charge_id),
    ):
        if value is not None:
            found = (await db.execute(select(Payment).where(col(column) == value))).scalar_one_or_none()
            if found is not None:
                return found
    return None


def _invoice_payment_ids(invoice: dict[str, Any]) -> tuple[str | None, str | None]:
    """The payment intent and charge of an invoice, in the older flat shape or the newer `payments` list."""
    intent_id, charge_id = _id(invoice.get("payment_intent")), _id(invoice.get("charge"))
    for invoice_payment in (invoice.get("payments") or {}).get("data") or []:
        paid_with = invoice_payment.get("payment") or {}
        intent_id = intent_id or _id(paid_with.get("payment_intent"))
        charge_id = charge_id or _id(paid_with.get("charge"))
    return intent_id, charge_id


def _invoice_period(invoice: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The service period the invoice pays for: its subscription line's (the invoice's own is the last)."""
    lines = (invoice.get("lines") or {}).get("data") or []
    period = (lines[0].get("period") if lines else None) or {}
    start = period.get("start") or invoice.get("period_start")
    end = period.get("end") or invoice.get("period_end")
    return _time(start), _time(end)


async def _plan_of_lines(db: AsyncSession, invoice: dict[str, Any]) -> Plan | None:
    lines = (invoice.get("lines") or {}).get("data") or []
    price = (lines[0].get("price") if lines else None) or {}
    recurring = price.get("recurring") or {}
    if isinstance(price.get("unit_amount"), int) and price.get("currency") and recurring.get("interval"):
        return await plans.plan_for_price(db, price["unit_amount"], price["currency"], recurring["interval"])
    return None


# Shared


async def lock_customer(db: AsyncSession, customer_id: str) -> None:
    """Serialises everything done for one Stripe customer until the transaction ends."""
    await db.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"stripe-customer:{customer_id}"))))


async def _user_for(db: AsyncSession, customer_id: str, metadata: dict[str, Any]) -> uuid.UUID | None:
    """Our user behind a Stripe customer: our customer row, else the user id our checkout put in metadata."""
    customer = (
        await db.execute(
            select(BillingCustomer).where(col(BillingCustomer.stripe_customer_id) == customer_id)
        )
    ).scalar_one_or_none()
    if customer is not None:
        return customer.user_id
    try:
        user_id = uuid.UUID(str(metadata.get("user_id")))
    except ValueError:
        return None
    if await db.get(User, user_id) is None:
        return None
    await db.execute(
        insert(BillingCustomer)
        .values(user_id=user_id, stripe_customer_id=customer_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    return user_id


async def _plan_from_metadata(db: AsyncSession, metadata: dict[str, Any]) -> Plan | None:
    code = metadata.get("plan_code")
    plan = await plans.plan_by_code(db, code) if isinstance(code, str) else None
    return plan if plan is not None and plan.is_paid else None


async def _subscription_row(db: AsyncSession, subscription_id: str) -> BillingSubscription | None:
    statement = select(BillingSubscription).where(
        col(BillingSubscription.stripe_subscription_id) == subscription_id
    )
    return (await db.execute(statement)).scalar_one_or_none()


async def _placeholder(
    db: AsyncSession,
    user_id: uuid.UUID,
    plan: Plan,
    subscription_id: str,
    customer_id: str,
    status: BillingStatus,
    period_start: datetime | None,
    period_end: datetime | None,
) -> None:
    """A subscription known only from a checkout or an invoice: any subscription state replaces it."""
    db.add(
        BillingSubscription(
            user_id=user_id,
            plan_id=plan.id,
            stripe_subscription_id=subscription_id,
            stripe_customer_id=customer_id,
            status=status,
            current_period_start=period_start,
            current_period_end=period_end,
            state_at=0,
        )
    )
    await db.flush()
    _refresh_later(db, subscription_id, 0)


def _refresh_later(db: AsyncSession, subscription_id: str, state_at: int) -> None:
    enqueue_after_commit(
        db, REFRESH_JOB, subscription_id, job_id=f"{REFRESH_JOB}:{subscription_id}:{state_at}"
    )


def _first_item(subscription: dict[str, Any]) -> dict[str, Any]:
    items = (subscription.get("items") or {}).get("data") or []
    first: dict[str, Any] = items[0] if items else {}
    return first


def _metadata(stripe_object: dict[str, Any]) -> dict[str, Any]:
    metadata = stripe_object.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _id(value: object) -> str | None:
    """An id, whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _time(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and value > 0 else None


_HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_event,
    "customer.subscription.updated": _subscription_event,
    "customer.subscription.deleted": _subscription_event,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "charge.refunded": _charge_refunded,
}
