"""What the billing tests share: Stripe pointed at the fake server, and a customer made by a real checkout."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from core.db import read_session
from core.settings import get_settings
from models.billing import BillingCustomer, CreditEntry
from tests.client import GraphQLClient
from tests.factories import Account
from tests.fake_stripe_server import FakeStripeServer, fake_stripe_server
from tests.stripe_events import WEBHOOK_SECRET

START_CHECKOUT = """
mutation($plan: String!, $promo: String) {
  startCheckout(planCode: $plan, promotionCode: $promo) { id url }
}"""
CREDITS = "{ credits { kind remaining unlimited resetsAt } }"


@asynccontextmanager
async def configured_stripe(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeStripeServer]:
    """Billing configured (key, webhook secret) with the SDK pointed at a fake Stripe, without retries."""
    async with fake_stripe_server() as fake:
        settings = get_settings()
        monkeypatch.setattr(settings, "stripe_secret_key", "sk_test_fake_studymate")
        monkeypatch.setattr(settings, "stripe_webhook_secret", WEBHOOK_SECRET)
        monkeypatch.setattr(settings, "stripe_api_base", fake.url)
        monkeypatch.setattr(settings, "stripe_max_network_retries", 0)
        yield fake


async def checkout_customer(gql: GraphQLClient, account: Account, plan: str = "premium_monthly") -> str:
    """Starts a checkout as the user would; returns the Stripe customer it created for them."""
    await gql.data(START_CHECKOUT, {"plan": plan}, token=account.token)
    async with read_session() as db:
        customer = await db.get(BillingCustomer, account.user.id)
    assert customer is not None
    return customer.stripe_customer_id


async def credits_of(gql: GraphQLClient, account: Account) -> dict[str, dict[str, Any]]:
    data = await gql.data(CREDITS, token=account.token)
    return {row["kind"]: row for row in data["credits"]}


async def ledger(account: Account) -> list[tuple[str, str, int, str]]:
    """The user's ledger as (kind, type, delta, reason), in a stable order for comparisons."""
    async with read_session() as db:
        rows = (
            await db.execute(
                select(
                    col(CreditEntry.kind),
                    col(CreditEntry.entry_type),
                    col(CreditEntry.delta),
                    col(CreditEntry.reason),
                ).where(col(CreditEntry.user_id) == account.user.id)
            )
        ).all()
    return sorted((kind.value, entry_type.value, delta, reason) for kind, entry_type, delta, reason in rows)


async def ledger_sums(account: Account) -> dict[str, int]:
    async with read_session() as db:
        rows = (
            await db.execute(
                select(col(CreditEntry.kind), func.sum(col(CreditEntry.delta)))
                .where(col(CreditEntry.user_id) == account.user.id)
                .group_by(CreditEntry.kind)
            )
        ).all()
    return {kind.value: int(total) for kind, total in rows}
