"""Our rows behind Stripe's objects, for the webhook handlers of `webhooks` and `invoices`.

The Stripe customer's lock and our user behind it, the plan of a price or of our checkout's metadata,
and our subscription row, or a placeholder for one that the worker completes from Stripe.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.jobs import enqueue_after_commit
from models.accounts import User
from models.base import utcnow
from models.billing import BillingCustomer, BillingStatus, BillingSubscription, Plan
from resolvers.billing import plans
from resolvers.billing.stripe_objects import id_of

REFRESH_JOB = "billing.refresh_subscription"


async def lock_customer(db: AsyncSession, customer_id: str) -> None:
    """Serialises everything done for one Stripe customer until the transaction ends."""
    await db.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"stripe-customer:{customer_id}"))))


async def locked_customer(
    db: AsyncSession, stripe_object: dict[str, Any], metadata: dict[str, Any]
) -> tuple[str, uuid.UUID] | str:
    """The object's Stripe customer, locked until the transaction ends, and our user; or why it is ignored."""
    customer_id = id_of(stripe_object.get("customer"))
    if customer_id is None:
        return "ignored: no customer"
    await lock_customer(db, customer_id)
    user_id = await user_for(db, customer_id, metadata)
    if user_id is None:
        return "ignored: not one of our customers"
    return customer_id, user_id


async def user_for(db: AsyncSession, customer_id: str, metadata: dict[str, Any]) -> uuid.UUID | None:
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


async def plan_of_price(db: AsyncSession, price: dict[str, Any]) -> Plan | None:
    """The plan with a Stripe price's amount, currency and interval."""
    recurring = price.get("recurring") or {}
    if isinstance(price.get("unit_amount"), int) and price.get("currency") and recurring.get("interval"):
        return await plans.plan_for_price(db, price["unit_amount"], price["currency"], recurring["interval"])
    return None


async def plan_from_metadata(db: AsyncSession, metadata: dict[str, Any]) -> Plan | None:
    code = metadata.get("plan_code")
    plan = await plans.plan_by_code(db, code) if isinstance(code, str) else None
    return plan if plan is not None and plan.is_paid else None


async def subscription_row(db: AsyncSession, subscription_id: str) -> BillingSubscription | None:
    statement = select(BillingSubscription).where(
        col(BillingSubscription.stripe_subscription_id) == subscription_id
    )
    return (await db.execute(statement)).scalar_one_or_none()


async def placeholder(
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
    refresh_later(db, subscription_id, 0)


def refresh_later(db: AsyncSession, subscription_id: str, state_at: int) -> None:
    enqueue_after_commit(
        db, REFRESH_JOB, subscription_id, job_id=f"{REFRESH_JOB}:{subscription_id}:{state_at}"
    )
