"""Plans, the signed-in user's subscription, credits and payments; checkout and the admin's grant."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

import models.billing as rows
from core.db import read_session, transaction
from resolvers.billing import checkout, credits, plans
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.relay import Connection

BillingInterval = strawberry.enum(rows.BillingInterval, name="BillingInterval")
BillingStatus = strawberry.enum(rows.BillingStatus, name="BillingStatus")
CreditKind = strawberry.enum(rows.CreditKind, name="CreditKind")
PaymentStatus = strawberry.enum(rows.PaymentStatus, name="PaymentStatus")
CreditEntryType = strawberry.enum(rows.EntryType, name="CreditEntryType")


@strawberry.type
class Plan:
    id: strawberry.ID
    code: str
    name: str
    price: int = strawberry.field(
        description="In the currency's minor unit: KRW has none, 9,900 KRW is 9900."
    )
    currency: str
    interval: BillingInterval
    trial_days: int
    credits: JSON = strawberry.field(
        description='Credits per period by kind, e.g. {"SUMMARY": null, "QUIZ_GENERATION": 50}; '
        "null is unlimited."
    )
    features: list[str]

    @classmethod
    def from_row(cls, row: rows.Plan) -> "Plan":
        return cls(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            price=row.price,
            currency=row.currency,
            interval=row.interval,
            trial_days=row.trial_days,
            credits=JSON(dict(row.credits)),
            features=list(row.features),
        )


@strawberry.type
class BillingSubscription:
    id: strawberry.ID
    plan: Plan
    status: BillingStatus
    current_period_end: datetime | None
    cancel_at_period_end: bool
    trial_end: datetime | None

    @classmethod
    def from_view(cls, view: checkout.SubscriptionView) -> "BillingSubscription":
        row = view.subscription
        return cls(
            id=strawberry.ID(str(row.id)),
            plan=Plan.from_row(view.plan),
            status=row.status,
            current_period_end=row.current_period_end,
            cancel_at_period_end=row.cancel_at_period_end,
            trial_end=row.trial_end,
        )


@strawberry.type
class CreditBalance:
    kind: CreditKind
    remaining: int
    unlimited: bool
    resets_at: datetime | None

    @classmethod
    def from_balance(cls, balance: credits.Balance) -> "CreditBalance":
        return cls(
            kind=balance.kind,
            remaining=balance.remaining,
            unlimited=balance.unlimited,
            resets_at=balance.resets_at,
        )


@strawberry.type
class CreditEntry:
    id: strawberry.ID
    kind: CreditKind
    type: CreditEntryType
    delta: int
    reason: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: rows.CreditEntry) -> "CreditEntry":
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            type=row.entry_type,
            delta=row.delta,
            reason=row.reason,
            created_at=row.created_at,
        )


@strawberry.type
class CheckoutSession:
    id: strawberry.ID
    url: str


@strawberry.type
class Payment:
    id: strawberry.ID
    amount: int = strawberry.field(description="In the currency's minor unit, like Plan.price.")
    currency: str
    status: PaymentStatus
    description: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: rows.Payment) -> "Payment":
        return cls(
            id=strawberry.ID(str(row.id)),
            amount=row.amount,
            currency=row.currency,
            status=row.status,
            description=row.description,
            created_at=row.created_at,
        )


@strawberry.type
class BillingQuery:
    @strawberry.field
    async def plans(self) -> list[Plan]:
        async with read_session() as db:
            found = await plans.list_plans(db)
        return [Plan.from_row(plan) for plan in found]

    # Null for a user who never subscribed: they are on the free plan.
    @strawberry.field
    async def my_subscription(self, info: Info) -> BillingSubscription | None:
        async with read_session() as db:
            view = await checkout.my_subscription(db, info.context.actor)
        return BillingSubscription.from_view(view) if view else None

    @strawberry.field
    async def credits(self, info: Info) -> list[CreditBalance]:
        async with read_session() as db:
            found = await credits.my_balances(db, info.context.actor)
        return [CreditBalance.from_balance(balance) for balance in found]

    @strawberry.field
    async def credit_history(
        self, info: Info, kind: CreditKind | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[CreditEntry]:
        async with read_session() as db:
            page = await credits.my_history(db, info.context.actor, kind, first=first, after=after)
        return Connection.from_page(page, CreditEntry.from_row)

    @strawberry.field
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Payment]:
        async with read_session() as db:
            page = await checkout.payments(db, info.context.actor, first=first, after=after)
        return Connection.from_page(page, Payment.from_row)


@strawberry.type
class BillingMutation:
    # A Stripe Checkout URL for a paid plan; the plan starts when Stripe says so.
    @strawberry.mutation
    async def start_checkout(
        self, info: Info, plan_code: str, promotion_code: str | None = None
    ) -> CheckoutSession:
        session = await checkout.start_checkout(info.context.actor, plan_code, promotion_code)
        return CheckoutSession(id=strawberry.ID(session.id), url=session.url)

    # Cancels the subscription at the end of the paid period, through Stripe.
    @strawberry.mutation
    async def cancel_subscription(self, info: Info) -> BillingSubscription:
        return BillingSubscription.from_view(await checkout.cancel_subscription(info.context.actor))

    # A Stripe customer-portal URL (payment method, invoices, plan changes).
    @strawberry.mutation
    async def open_billing_portal(self, info: Info) -> str:
        return await checkout.open_billing_portal(info.context.actor)

    @fields.mutation(
        "Spends one credit of the signed-in user's own balance, once per idempotencyKey (the AI features "
        "spend the same way on the server); PAYMENT_REQUIRED when none is left. Nobody can add to a balance "
        "this way."
    )
    async def spend_credit(
        self, info: Info, kind: CreditKind, idempotency_key: str, reason: str = "Spent by the app"
    ) -> CreditBalance:
        async with transaction() as db:
            balance = await credits.spend_mine(db, info.context.actor, kind, reason, idempotency_key)
        return CreditBalance.from_balance(balance)

    @fields.mutation("ADMIN only: adds credits to a user's current period (positive amounts only).")
    async def grant_credits(
        self, info: Info, user_id: strawberry.ID, kind: CreditKind, amount: int, reason: str
    ) -> CreditBalance:
        async with transaction() as db:
            balance = await credits.grant_by_admin(
                db, info.context.actor, parse_id(user_id, "User"), kind, amount, reason
            )
        return CreditBalance.from_balance(balance)
