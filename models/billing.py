"""Plans, Stripe customers and subscriptions, payments, the credit ledger and processed Stripe events.

Amounts are integers in the currency's minor unit (KRW has none: 9,900 KRW is 9900). Money and plan
state change only through Stripe's webhooks; credits only through the ledger, which is append-only.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, enum_type, id_field, timestamp_field


class BillingInterval(StrEnum):
    MONTH = "MONTH"
    YEAR = "YEAR"


class BillingStatus(StrEnum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELED = "CANCELED"
    INCOMPLETE = "INCOMPLETE"


# Statuses in which a subscription still belongs to its user (shown, cancellable).
LIVE_STATUSES = (
    BillingStatus.TRIALING,
    BillingStatus.ACTIVE,
    BillingStatus.PAST_DUE,
    BillingStatus.INCOMPLETE,
)


class PaymentStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


class CreditKind(StrEnum):
    SUMMARY = "SUMMARY"
    QUIZ_GENERATION = "QUIZ_GENERATION"
    ESSAY_GRADING = "ESSAY_GRADING"


class EntryType(StrEnum):
    GRANT = "GRANT"
    SPEND = "SPEND"
    REFUND = "REFUND"
    EXPIRY = "EXPIRY"
    CLAWBACK = "CLAWBACK"


class Plan(SQLModel, table=True):
    __tablename__ = "plans"
    # Seeded by the migrations: reference data that tests keep between tests.
    __table_args__ = {"info": {"seeded": True}}

    id: uuid.UUID = id_field()
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    price: int
    currency: str = Field(max_length=3)
    interval: BillingInterval = Field(sa_type=enum_type(BillingInterval))
    trial_days: int = 0
    # Credits per period and kind: {"SUMMARY": null (unlimited) | int, ...}; a missing kind has none.
    credits: dict[str, int | None] = Field(default_factory=dict, sa_type=JSON)
    features: list[str] = Field(default_factory=list, sa_type=JSON)
    sort_order: int = 0
    active: bool = True
    created_at: datetime = created_at_field()

    @property
    def is_paid(self) -> bool:
        return self.price > 0

    def allowance(self, kind: CreditKind) -> int | None:
        """Credits of `kind` per period; None means unlimited."""
        return self.credits.get(kind.value, 0)


class BillingCustomer(SQLModel, table=True):
    """The one Stripe customer of a user, created on their first checkout and reused."""

    __tablename__ = "billing_customers"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    stripe_customer_id: str = Field(max_length=255, unique=True)
    created_at: datetime = created_at_field()


class BillingSubscription(SQLModel, table=True):
    __tablename__ = "billing_subscriptions"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    plan_id: uuid.UUID = Field(foreign_key="plans.id")
    stripe_subscription_id: str = Field(max_length=255, unique=True)
    stripe_customer_id: str = Field(max_length=255)
    status: BillingStatus = Field(sa_type=enum_type(BillingStatus))
    current_period_start: datetime | None = timestamp_field()
    current_period_end: datetime | None = timestamp_field()
    cancel_at_period_end: bool = False
    trial_end: datetime | None = timestamp_field()
    canceled_at: datetime | None = timestamp_field()
    # Stripe time (epoch seconds) of the newest state applied: the event's `created`, or the moment of a
    # re-fetch. 0 for a row made from an invoice or a checkout before any subscription state was seen.
    state_at: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class Payment(SQLModel, table=True):
    """One invoice's money. Stripe's ids link the invoice, its charge and its refund in any order."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_user_id_created_at", "user_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    stripe_invoice_id: str | None = Field(default=None, max_length=255, unique=True)
    stripe_payment_intent_id: str | None = Field(default=None, max_length=255, unique=True)
    stripe_charge_id: str | None = Field(default=None, max_length=255, unique=True)
    stripe_subscription_id: str | None = Field(default=None, max_length=255)
    amount: int
    amount_refunded: int = 0
    currency: str = Field(max_length=3)
    status: PaymentStatus = Field(sa_type=enum_type(PaymentStatus))
    description: str | None = Field(default=None, max_length=300)
    period_start: datetime | None = timestamp_field()
    period_end: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class CreditEntry(SQLModel, table=True):
    """One append-only line of the ledger; a balance is the sum of its user's and kind's deltas."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_credit_entries_user_id_idempotency_key"),
        Index("ix_credit_entries_user_id_created_at", "user_id", "created_at", "id"),
        Index("ix_credit_entries_user_id_kind_bucket", "user_id", "kind", "bucket"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    kind: CreditKind = Field(sa_type=enum_type(CreditKind))
    entry_type: EntryType = Field(sa_type=enum_type(EntryType))
    delta: int
    reason: str = Field(max_length=200)
    # The credit period the entry belongs to (`free:2026-11`, `invoice:in_…`), see resolvers.billing.credits.
    bucket: str = Field(max_length=100)
    idempotency_key: str | None = Field(default=None, max_length=200)
    actor_id: uuid.UUID | None = Field(default=None)
    created_at: datetime = created_at_field()


class CreditBalance(SQLModel, table=True):
    """The row every change of one user's credits of one kind locks, and that kind's current period.

    It holds no amount: the balance is always the ledger's sum.
    """

    __tablename__ = "credit_balances"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    kind: CreditKind = Field(sa_type=enum_type(CreditKind), primary_key=True)
    bucket: str = Field(default="", max_length=100)
    unlimited: bool = False
    resets_at: datetime | None = timestamp_field()
    updated_at: datetime = created_at_field()


class StripeEvent(SQLModel, table=True):
    """A Stripe event id processed once: written in the same transaction as the event's effects."""

    __tablename__ = "stripe_events"

    id: str = Field(max_length=255, primary_key=True)
    type: str = Field(max_length=100)
    created: int = Field(sa_column=Column(BigInteger, nullable=False))
    object_id: str | None = Field(default=None, max_length=255)
    outcome: str = Field(max_length=200)
    processed_at: datetime = created_at_field()
