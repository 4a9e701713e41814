"""Stripe events as Stripe sends them (API shapes of 2025 and later), and Stripe's webhook signature.

The signature is computed here from Stripe's documented scheme, not with the SDK under test:
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint secret>`.
"""

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

WEBHOOK_SECRET = "whsec_test_studymate_0123456789"
DAY = 24 * 3600
PRICES: dict[str, dict[str, Any]] = {
    "premium_monthly": {"unit_amount": 9900, "currency": "krw", "recurring": {"interval": "month"}},
    "premium_yearly": {"unit_amount": 99000, "currency": "krw", "recurring": {"interval": "year"}},
}


def signature(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event(
    event_type: str, data_object: dict[str, Any], created: int, event_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": data_object},
    }


async def deliver(
    http: httpx.AsyncClient,
    stripe_event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    payload = json.dumps(stripe_event)
    headers = {"Stripe-Signature": signature(payload, secret, timestamp), "Content-Type": "application/json"}
    return await http.post("/webhooks/stripe", content=payload, headers=headers)


@dataclass
class Lifetime:
    """One customer's subscription, from which the test builds the events Stripe would send."""

    user_id: str
    plan_code: str = "premium_monthly"
    start: int = field(default_factory=lambda: int(time.time()) - 60)
    customer: str = field(default_factory=lambda: f"cus_{uuid.uuid4().hex[:14]}")
    subscription_id: str = field(default_factory=lambda: f"sub_{uuid.uuid4().hex[:14]}")
    invoice_id: str = field(default_factory=lambda: f"in_{uuid.uuid4().hex[:14]}")
    payment_intent: str = field(default_factory=lambda: f"pi_{uuid.uuid4().hex[:14]}")
    charge_id: str = field(default_factory=lambda: f"ch_{uuid.uuid4().hex[:14]}")

    @property
    def metadata(self) -> dict[str, str]:
        return {"user_id": self.user_id, "plan_code": self.plan_code}

    @property
    def period_end(self) -> int:
        return self.start + (365 if self.plan_code == "premium_yearly" else 30) * DAY

    @property
    def amount(self) -> int:
        amount: int = PRICES[self.plan_code]["unit_amount"]
        return amount

    def subscription(self, status: str = "active", *, cancel_at_period_end: bool = False) -> dict[str, Any]:
        return {
            "id": self.subscription_id,
            "object": "subscription",
            "customer": self.customer,
            "status": status,
            "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": None if status != "canceled" else self.start + 100,
            "ended_at": None if status != "canceled" else self.start + 100,
            "trial_end": None,
            "created": self.start,
            "metadata": self.metadata,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": f"si_{self.subscription_id[4:]}",
                        "object": "subscription_item",
                        "current_period_start": self.start,
                        "current_period_end": self.period_end,
                        "price": {
                            "id": f"price_{self.plan_code}",
                            "object": "price",
                            **PRICES[self.plan_code],
                        },
                    }
                ],
            },
        }

    def invoice(self, *, amount: int | None = None) -> dict[str, Any]:
        paid = self.amount if amount is None else amount
        return {
            "id": self.invoice_id,
            "object": "invoice",
            "customer": self.customer,
            "currency": "krw",
            "amount_due": paid,
            "amount_paid": paid,
            "created": self.start,
            "status": "paid",
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": self.subscription_id, "metadata": self.metadata},
            },
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": f"il_{self.invoice_id[3:]}",
                        "period": {"start": self.start, "end": self.period_end},
                    }
                ],
            },
            "payments": {
                "object": "list",
                "data": [{"payment": {"type": "payment_intent", "payment_intent": self.payment_intent}}],
            },
        }

    def refunded_charge(self) -> dict[str, Any]:
        return {
            "id": self.charge_id,
            "object": "charge",
            "customer": self.customer,
            "amount": self.amount,
            "amount_refunded": self.amount,
            "refunded": True,
            "currency": "krw",
            "payment_intent": self.payment_intent,
        }

    def checkout_completed(self) -> dict[str, Any]:
        return {
            "id": f"cs_test_{uuid.uuid4().hex[:14]}",
            "object": "checkout.session",
            "mode": "subscription",
            "customer": self.customer,
            "subscription": self.subscription_id,
            "client_reference_id": self.user_id,
            "metadata": self.metadata,
            "status": "complete",
        }

    def stream(self) -> list[dict[str, Any]]:
        """A whole lifetime in Stripe's order: created, paid, cancel requested, refunded, deleted."""
        return [
            event("customer.subscription.created", self.subscription("incomplete"), self.start),
            event("invoice.paid", self.invoice(), self.start + 1),
            event("customer.subscription.updated", self.subscription("active"), self.start + 2),
            event(
                "customer.subscription.updated",
                self.subscription("active", cancel_at_period_end=True),
                self.start + 3,
            ),
            event("charge.refunded", self.refunded_charge(), self.start + 4),
            event(
                "customer.subscription.deleted",
                self.subscription("canceled", cancel_at_period_end=True),
                self.start + 5,
            ),
        ]
