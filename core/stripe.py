"""The configured Stripe client and webhook verification.

One `stripe.StripeClient` per process (its httpx pool is reused), with `STRIPE_SECRET_KEY`, the base URL
of `STRIPE_API_BASE` when set (tests point it at a local server) and a few SDK retries, which Stripe
makes safe with idempotency keys. Without a key every billing call is `BillingUnavailable`.
"""

import json
import logging
from typing import Any

import stripe

from core.errors import BillingUnavailable
from core.settings import get_settings

logger = logging.getLogger(__name__)

_clients: dict[tuple[str, str | None, int, float], stripe.StripeClient] = {}


def stripe_client() -> stripe.StripeClient:
    settings = get_settings()
    key = settings.stripe_secret_key
    if not key:
        raise BillingUnavailable("Billing is not configured")
    cache_key = (
        key,
        settings.stripe_api_base,
        settings.stripe_max_network_retries,
        settings.stripe_timeout_seconds,
    )
    client = _clients.get(cache_key)
    if client is None:
        client = _clients[cache_key] = stripe.StripeClient(
            key,
            base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
            max_network_retries=settings.stripe_max_network_retries,
            http_client=stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds),
        )
    return client


def unavailable(error: stripe.StripeError) -> BillingUnavailable:
    """What a client sees of a Stripe failure that is not its input's fault; the details go to the log."""
    logger.error("stripe call failed: %s (%s)", type(error).__name__, error.user_message or error)
    return BillingUnavailable("Billing is unavailable, try again later")


class InvalidWebhook(Exception):
    pass


def verify_webhook(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event of a webhook body signed with `STRIPE_WEBHOOK_SECRET` within the tolerance.

    InvalidWebhook for a missing, wrong or stale signature, or a body that is not a JSON event.
    """
    settings = get_settings()
    secret = settings.stripe_webhook_secret
    if not secret:
        raise BillingUnavailable("Stripe webhooks are not configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, secret, tolerance=settings.stripe_webhook_tolerance_seconds
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError, IndexError) as error:
        raise InvalidWebhook(str(error)) from error
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise InvalidWebhook("not a Stripe event")
    return event
