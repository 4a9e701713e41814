"""Plans are data, seeded by the migrations; a user without a paid subscription is on `free`."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.billing import BillingInterval, BillingStatus, BillingSubscription, Plan

FREE_PLAN = "free"
# A subscription in these gives its paid plan's features: a trial, and a renewal Stripe is still retrying.
PAID_FEATURE_STATUSES = (BillingStatus.TRIALING, BillingStatus.ACTIVE, BillingStatus.PAST_DUE)


async def list_plans(db: AsyncSession) -> list[Plan]:
    statement = select(Plan).where(col(Plan.active)).order_by(col(Plan.sort_order), col(Plan.code))
    return list((await db.execute(statement)).scalars())


async def plan_by_code(db: AsyncSession, code: str) -> Plan | None:
    return (await db.execute(select(Plan).where(col(Plan.code) == code))).scalar_one_or_none()


async def free_plan(db: AsyncSession) -> Plan:
    plan = await plan_by_code(db, FREE_PLAN)
    if plan is None:
        raise RuntimeError("the free plan is missing: run the migrations")
    return plan


async def has_paid_plan(db: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the user's subscription gives them a paid plan's features now (premium subjects)."""
    statement = (
        select(col(BillingSubscription.id))
        .join(Plan, col(Plan.id) == col(BillingSubscription.plan_id))
        .where(
            col(BillingSubscription.user_id) == user_id,
            col(BillingSubscription.status).in_(PAID_FEATURE_STATUSES),
            col(Plan.price) > 0,
        )
        .limit(1)
    )
    return (await db.execute(statement)).first() is not None


async def plan_for_price(db: AsyncSession, amount: int, currency: str, interval: str) -> Plan | None:
    """The paid plan a Stripe price stands for (a plan changed in the customer portal changes the price)."""
    try:
        billing_interval = BillingInterval(interval.upper())
    except ValueError:
        return None
    statement = select(Plan).where(
        col(Plan.price) == amount,
        col(Plan.currency) == currency.upper(),
        col(Plan.interval) == billing_interval,
        col(Plan.price) > 0,
    )
    return (await db.execute(statement.limit(1))).scalar_one_or_none()
