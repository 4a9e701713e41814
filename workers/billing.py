"""Stripe follow-ups that must not hold up a webhook answer.

`billing.refresh_subscription` re-fetches a subscription from Stripe when the events left its state in
doubt (two states of the same second, or a subscription known only from its checkout or invoice) and
stores it as the newest state. Idempotent: it stores whatever Stripe says now.
"""

import logging
import time
from typing import Any

import stripe

from core.db import transaction
from core.errors import BillingUnavailable
from core.stripe import stripe_client
from resolvers.billing.webhooks import apply_subscription

logger = logging.getLogger(__name__)

MAX_TRIES = 5


async def refresh_subscription(ctx: dict[str, Any], stripe_subscription_id: str) -> str:
    try:
        client = stripe_client()
    except BillingUnavailable:
        return "skipped: billing is not configured"
    try:
        subscription = await client.v1.subscriptions.retrieve_async(stripe_subscription_id)
    except stripe.InvalidRequestError as error:
        # Gone or never ours: nothing to refresh, and retrying will not change that.
        logger.warning("subscription %s could not be fetched: %s", stripe_subscription_id, error)
        return "skipped: not found at Stripe"
    fetched_at = int(time.time())
    async with transaction() as db:
        outcome = await apply_subscription(db, subscription.to_dict(), fetched_at, fetched=True)
    logger.info("subscription %s refreshed: %s", stripe_subscription_id, outcome)
    return outcome
