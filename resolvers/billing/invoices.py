"""Stripe's invoice and charge events: `invoice.paid`, `invoice.payment_failed` and `charge.refunded`.

Each keeps one `Payment` per invoice, found by whichever Stripe id the event carries, so the three may
come in any order; credits are granted once per paid invoice and clawed back once per refunded one.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.base import utcnow
from models.billing import BillingStatus, Payment, PaymentStatus, Plan
from resolvers import notifications
from resolvers.billing import credits
from resolvers.billing.matching import (
    locked_customer,
    placeholder,
    plan_from_metadata,
    plan_of_price,
    subscription_row,
)
from resolvers.billing.stripe_objects import Event, first_of, id_of, metadata_of, time_of


@dataclass(frozen=True)
class _InvoiceContext:
    """An invoice with whom, and what, it bills."""

    invoice: dict[str, Any]
    user_id: uuid.UUID
    plan: Plan | None
    subscription_id: str | None
    period_start: datetime | None
    period_end: datetime | None


async def invoice_paid(db: AsyncSession, event: Event) -> str:
    context = await _invoice_context(db, event["data"]["object"])
    if isinstance(context, str):
        return context
    invoice, user_id, plan = context.invoice, context.user_id, context.plan
    if (
        context.subscription_id is not None
        and await subscription_row(db, context.subscription_id) is None
        and plan is not None
    ):
        status = BillingStatus.TRIALING if invoice.get("amount_paid") == 0 else BillingStatus.ACTIVE
        await placeholder(
            db,
            user_id,
            plan,
            context.subscription_id,
            id_of(invoice.get("customer")) or "",
            status,
            context.period_start,
            context.period_end,
        )
    payment = None
    amount = int(invoice.get("amount_paid") or 0)
    if amount > 0:
        payment = await _payment(db, context, amount)
        if payment.status is PaymentStatus.FAILED:
            payment.status = PaymentStatus.SUCCEEDED
        await notifications.notify(
            db,
            user_id,
            "payment_succeeded",
            variables={
                "amount": f"{amount:,} {payment.currency}",
                "plan": plan.name if plan else "StudyMate",
            },
            dedupe_key=f"payment_succeeded:{invoice['id']}",
        )
    outcome = "invoice paid"
    start, end = context.period_start, context.period_end
    if (
        plan is not None
        and plan.is_paid
        and start is not None
        and end is not None
        and await credits.grant_period(db, user_id, plan, invoice["id"], start, end)
    ):
        outcome += "; credits granted"
    if payment is not None and payment.status is PaymentStatus.REFUNDED:
        await credits.claw_back_period(db, user_id, invoice["id"])
        outcome += "; already refunded, credits clawed back"
    return outcome


async def invoice_payment_failed(db: AsyncSession, event: Event) -> str:
    context = await _invoice_context(db, event["data"]["object"])
    if isinstance(context, str):
        return context
    invoice, plan = context.invoice, context.plan
    amount = int(invoice.get("amount_due") or 0)
    payment = await _payment(db, context, amount, PaymentStatus.FAILED)
    if payment.status is not PaymentStatus.FAILED:
        return "ignored: the invoice is paid already"
    # Each failed attempt tells the user once; Stripe retries the payment and the portal fixes the card.
    await notifications.notify(
        db,
        context.user_id,
        "payment_failed",
        variables={"amount": f"{amount:,} {payment.currency}", "plan": plan.name if plan else "StudyMate"},
        dedupe_key=f"payment_failed:{invoice['id']}:{invoice.get('attempt_count', 0)}",
    )
    return "invoice payment failed; user notified"


async def charge_refunded(db: AsyncSession, event: Event) -> str:
    charge: dict[str, Any] = event["data"]["object"]
    found = await locked_customer(db, charge, metadata_of(charge))
    if isinstance(found, str):
        return found
    _, user_id = found
    invoice_id, intent_id = id_of(charge.get("invoice")), id_of(charge.get("payment_intent"))
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


async def _invoice_context(db: AsyncSession, invoice: dict[str, Any]) -> _InvoiceContext | str:
    """The user, plan, subscription and period of an invoice, or why it is ignored."""
    details = (
        (invoice.get("parent") or {}).get("subscription_details") or invoice.get("subscription_details") or {}
    )
    metadata = {**metadata_of(invoice), **(details.get("metadata") or {})}
    found = await locked_customer(db, invoice, metadata)
    if isinstance(found, str):
        return found
    _, user_id = found
    subscription_id = id_of(invoice.get("subscription")) or id_of(details.get("subscription"))
    row = await subscription_row(db, subscription_id) if subscription_id else None
    plan = await db.get(Plan, row.plan_id) if row is not None else None
    price = first_of(invoice, "lines").get("price") or {}
    plan = plan or await plan_from_metadata(db, metadata) or await plan_of_price(db, price)
    return _InvoiceContext(invoice, user_id, plan, subscription_id, *_invoice_period(invoice))


async def _payment(
    db: AsyncSession, context: _InvoiceContext, amount: int, status: PaymentStatus = PaymentStatus.SUCCEEDED
) -> Payment:
    """The invoice's payment, created or completed; a status already further along is kept."""
    invoice, plan = context.invoice, context.plan
    period_start, period_end = context.period_start, context.period_end
    intent_id, charge_id = _invoice_payment_ids(invoice)
    payment = await _find_payment(db, invoice["id"], intent_id, charge_id)
    if payment is None:
        payment = Payment(user_id=context.user_id, amount=amount, currency="", status=status)
        db.add(payment)
    payment.stripe_invoice_id = payment.stripe_invoice_id or invoice["id"]
    payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or intent_id
    payment.stripe_charge_id = payment.stripe_charge_id or charge_id
    payment.stripe_subscription_id = payment.stripe_subscription_id or context.subscription_id
    payment.amount = amount
    payment.currency = str(invoice.get("currency") or payment.currency).upper()[:3]
    payment.period_start, payment.period_end = period_start, period_end
    if plan is not None and period_start is not None and period_end is not None:
        payment.description = f"{plan.name}, {period_start:%Y-%m-%d} to {period_end:%Y-%m-%d}"
    created = time_of(invoice.get("created"))
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
    intent_id, charge_id = id_of(invoice.get("payment_intent")), id_of(invoice.get("charge"))
    for invoice_payment in (invoice.get("payments") or {}).get("data") or []:
        paid_with = invoice_payment.get("payment") or {}
        intent_id = intent_id or id_of(paid_with.get("payment_intent"))
        charge_id = charge_id or id_of(paid_with.get("charge"))
    return intent_id, charge_id


def _invoice_period(invoice: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The service period the invoice pays for: its subscription line's (the invoice's own is the last)."""
    period = first_of(invoice, "lines").get("period") or {}
    start = period.get("start") or invoice.get("period_start")
    end = period.get("end") or invoice.get("period_end")
    return time_of(start), time_of(end)
