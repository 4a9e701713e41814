"""A small local HTTP server speaking Stripe's REST wire format, for the real `stripe` SDK.

It answers the calls billing makes (customers, promotion codes, checkout and portal sessions,
subscriptions) with objects of Stripe's shapes, honours `Idempotency-Key` the way Stripe does (the same
key answers the first response again), and keeps every request with its form parameters exactly as the
SDK encoded them (`line_items[0][price_data][unit_amount]` → "9900"), so a test checks what left for
Stripe. Tests can seed subscriptions and promotion codes, and script failures.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devstack.server import free_port
from tests.helpers.servers import serving


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None
    authorization: str | None


@dataclass
class PromotionCode:
    id: str
    code: str
    active: bool = True
    # Stripe refuses some codes only when the session is created (e.g. first-time customers only).
    rejected_at_checkout: bool = False


@dataclass
class FakeStripeServer:
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    promotion_codes: list[PromotionCode] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    _replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, status: int, times: int = 1) -> None:
        """The next `times` requests answer `status` with Stripe's error body."""
        self.failures.extend([status] * times)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    async def _handle(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        pairs = parse_qsl(body, keep_blank_values=True) + parse_qsl(request.url.query, keep_blank_values=True)
        key = request.headers.get("idempotency-key")
        recorded = Recorded(
            request.method, request.url.path, dict(pairs), key, request.headers.get("authorization")
        )
        self.requests.append(recorded)
        if self.failures:
            status, reply = _error(self.failures.pop(0), "api_error", "scripted failure")
            return JSONResponse(reply, status_code=status)
        # Stripe's SDK sends an idempotency key with every POST; a replay answers the first response.
        if request.method == "POST" and key is not None and key in self._replies:
            status, reply = self._replies[key]
            return JSONResponse(reply, status_code=status)
        status, reply = self._route(recorded)
        if request.method == "POST" and key is not None:
            self._replies[key] = (status, reply)
        return JSONResponse(reply, status_code=status)

    def _route(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        method, path, params = request.method, request.path, request.params
        if (method, path) == ("POST", "/v1/customers"):
            customer_id = self._new_id("cus")
            customer = {
                "id": customer_id,
                "object": "customer",
                "email": params.get("email"),
                "name": params.get("name"),
                "metadata": _nested(params, "metadata"),
            }
            self.customers[customer_id] = customer
            return 200, customer
        if (method, path) == ("GET", "/v1/promotion_codes"):
            found = [
                {"id": p.id, "object": "promotion_code", "code": p.code, "active": p.active}
                for p in self.promotion_codes
                if p.code == params.get("code") and (params.get("active") != "true" or p.active)
            ]
            return 200, {"object": "list", "data": found, "has_more": False, "url": path}
        if (method, path) == ("POST", "/v1/checkout/sessions"):
            return self._checkout(params)
        if (method, path) == ("POST", "/v1/billing_portal/sessions"):
            session_id = self._new_id("bps")
            return 200, {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": params.get("customer"),
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.test/p/session/{session_id}",
            }
        if path.startswith("/v1/subscriptions/"):
            subscription = self.subscriptions.get(path.removeprefix("/v1/subscriptions/"))
            if subscription is None:
                return _error(404, "invalid_request_error", "No such subscription", code="resource_missing")
            if method == "POST" and "cancel_at_period_end" in params:
                subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
            return 200, subscription
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def _checkout(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        promotion_id = params.get("discounts[0][promotion_code]")
        if promotion_id is not None:
            promotion = next((p for p in self.promotion_codes if p.id == promotion_id), None)
            if promotion is None or not promotion.active or promotion.rejected_at_checkout:
                return _error(
                    400,
                    "invalid_request_error",
                    "This promotion code cannot be redeemed because the associated customer has prior "
                    "transactions.",
                    param="discounts[0][promotion_code]",
                )
        if params.get("customer", "") not in self.customers:
            return _error(400, "invalid_request_error", "No such customer", param="customer")
        session_id = self._new_id("cs_test")
        return 200, {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "customer": params.get("customer"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": _nested(params, "metadata"),
            "status": "open",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
        }


def _nested(params: dict[str, str], prefix: str) -> dict[str, str]:
    """`metadata[user_id]=…` pairs back into a dict."""
    start = f"{prefix}["
    return {k[len(start) : -1]: v for k, v in params.items() if k.startswith(start) and k.endswith("]")}


def _error(
    status: int, kind: str, message: str, *, param: str | None = None, code: str | None = None
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
    return status, {"error": error}


@asynccontextmanager
async def fake_stripe_server() -> AsyncIterator[FakeStripeServer]:
    fake = FakeStripeServer(port=free_port())

    async def handle(request: Request) -> JSONResponse:
        return await fake._handle(request)

    app = Starlette(routes=[Route("/v1/{path:path}", handle, methods=["GET", "POST", "DELETE"])])
    async with serving(app, fake.port):
        yield fake
