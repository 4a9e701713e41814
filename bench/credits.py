"""Credits and Stripe webhooks through `studymate api`: contended spends, and signed events per second.

Starts embedded Postgres, Redis and Kafka in a temporary directory (or uses DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS when set), migrates a fresh database and runs `studymate api` with a webhook
secret. Then:

1. race: `--spends` concurrent `spendCredit` mutations (distinct idempotency keys) against a balance of
   `--balance` for one user; prints how many succeeded (must be exactly the balance) and spends/s;
2. throughput: `--spends` spends against a balance large enough for all of them, same user (every spend
   waits on the same row lock: the worst case), at `--concurrency`;
3. webhooks: `--events` signed Stripe events (whole subscription lifetimes of distinct customers:
   created, invoice.paid, updated, charge.refunded, deleted) posted at `--concurrency`; prints events/s
   and checks every event was applied once.

    uv run python -m bench.credits --spends 200 --balance 10 --events 1000 --concurrency 32
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any

import httpx

from bench.harness import components, percentile, studymate, wait_until_healthy
from devstack.server import free_port

WEBHOOK_SECRET = "whsec_bench_studymate"
SPEND = """mutation($key: String!) {
  spendCredit(kind: ESSAY_GRADING, idempotencyKey: $key) { remaining } }"""
DAY = 24 * 3600


async def _make_users(count: int) -> list[uuid.UUID]:
    """Users written directly (registration's Argon2 is not what this measures)."""
    from core.db import transaction
    from models.accounts import User

    users = [
        User(email=f"bench-{uuid.uuid4().hex[:10]}@example.com", password_hash="-", name="Bench")
        for _ in range(count)
    ]
    async with transaction() as db:
        db.add_all(users)
    return [user.id for user in users]


async def _grant_to(user_id: uuid.UUID, total: int) -> None:
    """Brings the user's ESSAY_GRADING balance to `total` (the free month's 5 plus a grant)."""
    from core.db import transaction
    from models.billing import CreditKind
    from resolvers.billing import credits

    async with transaction() as db:
        await credits.grant(db, user_id, CreditKind.ESSAY_GRADING, total - 5, "bench top-up")
        balance = await credits.balance(db, user_id, CreditKind.ESSAY_GRADING)
    assert balance.remaining == total, balance


async def _spends(
    http: httpx.AsyncClient, token: str, count: int, concurrency: int
) -> tuple[int, int, float]:
    """`count` spends from at most `concurrency` clients; (succeeded, payment required, seconds)."""
    headers = {"Authorization": f"Bearer {token}"}
    succeeded = refused = 0
    keys = iter(range(count))
    run_id = uuid.uuid4().hex[:8]

    async def client() -> None:
        nonlocal succeeded, refused
        for i in keys:
            payload = {"query": SPEND, "variables": {"key": f"{run_id}-{i}"}}
            body = (await http.post("/graphql", json=payload, headers=headers)).json()
            if "errors" not in body:
                succeeded += 1
            elif body["errors"][0]["extensions"]["code"] == "PAYMENT_REQUIRED":
                refused += 1
            else:
                raise RuntimeError(body)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return succeeded, refused, time.perf_counter() - started


def _sign(payload: str) -> str:
    timestamp = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _lifetime(user_id: uuid.UUID, start: int) -> list[dict[str, Any]]:
    """One customer's monthly subscription as the five events Stripe sends, in Stripe's order."""
    suffix = uuid.uuid4().hex[:14]
    customer, subscription_id, invoice_id = f"cus_{suffix}", f"sub_{suffix}", f"in_{suffix}"
    intent = f"pi_{suffix}"
    metadata = {"user_id": str(user_id), "plan_code": "premium_monthly"}
    price = {"unit_amount": 9900, "currency": "krw", "recurring": {"interval": "month"}}

    def subscription(status: str, cancel: bool) -> dict[str, Any]:
        item = {"current_period_start": start, "current_period_end": start + 30 * DAY, "price": price}
        return {
            "id": subscription_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "cancel_at_period_end": cancel,
            "metadata": metadata,
            "items": {"object": "list", "data": [item]},
        }

    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "currency": "krw",
        "amount_paid": 9900,
        "amount_due": 9900,
        "created": start,
        "parent": {"subscription_details": {"subscription": subscription_id, "metadata": metadata}},
        "lines": {"data": [{"period": {"start": start, "end": start + 30 * DAY}}]},
        "payments": {"data": [{"payment": {"payment_intent": intent}}]},
    }
    charge = {
        "id": f"ch_{suffix}",
        "object": "charge",
        "customer": customer,
        "amount": 9900,
        "amount_refunded": 9900,
        "refunded": True,
        "currency": "krw",
        "payment_intent": intent,
    }
    objects = [
        ("customer.subscription.created", subscription("active", False)),
        ("invoice.paid", invoice),
        ("customer.subscription.updated", subscription("active", True)),
        ("charge.refunded", charge),
        ("customer.subscription.deleted", subscription("canceled", True)),
    ]
    return [
        {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "created": start + i, "data": {"object": obj}}
        for i, (kind, obj) in enumerate(objects)
    ]


async def _webhooks(http: httpx.AsyncClient, count: int, concurrency: int) -> tuple[float, list[float], int]:
    lifetimes = max(1, count // 5)
    user_ids = await _make_users(lifetimes)
    start = int(time.time()) - 60
    streams = [_lifetime(user_id, start) for user_id in user_ids]
    # Phase by phase, so each customer's events arrive mostly in order, from concurrent senders.
    events = [stream[phase] for phase in range(5) for stream in streams][:count]
    bodies = [json.dumps(e) for e in events]
    latencies: list[float] = []
    failures = 0
    queue = iter(bodies)

    async def sender() -> None:
        nonlocal failures
        for body in queue:
            sent = time.perf_counter()
            response = await http.post(
                "/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": _sign(body), "Content-Type": "application/json"},
            )
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


async def _applied() -> tuple[int, int, int]:
    from sqlalchemy import func, select
    from sqlmodel import col

    from core.db import read_session
    from models.billing import Payment, PaymentStatus, StripeEvent

    async with read_session() as db:
        events = (await db.execute(select(func.count()).select_from(StripeEvent))).scalar_one()
        refunded = (
            await db.execute(select(func.count()).where(col(Payment.status) == PaymentStatus.REFUNDED))
        ).scalar_one()
        ignored = (
            await db.execute(select(func.count()).where(col(StripeEvent.outcome).like("ignored%")))
        ).scalar_one()
    return int(events), int(refunded), int(ignored)


async def run(api_url: str, args: argparse.Namespace) -> None:
    from core.auth import Role, issue_access_token
    from core.db import dispose_engine

    await wait_until_healthy(api_url)
    limits = httpx.Limits(
        max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2
    )
    try:
        async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60) as http:
            # 1. The race: every spend at once against a small balance
            [racer, steady] = await _make_users(2)
            await _grant_to(racer, args.balance)
            token, _ = issue_access_token(racer, Role.STUDENT)
            succeeded, refused, seconds = await _spends(http, token, args.spends, args.spends)
            verdict = "OK" if succeeded == args.balance else "WRONG"
            print(
                f"race        {args.spends} concurrent spends against {args.balance}: {succeeded} succeeded "
                f"({verdict}), {refused} PAYMENT_REQUIRED, {args.spends / seconds:.0f} spends/s"
            )
            # 2. Throughput on one user's row: every spend succeeds, one at a time under the lock
            await _grant_to(steady, args.spends + 5)
            token, _ = issue_access_token(steady, Role.STUDENT)
            succeeded, refused, seconds = await _spends(http, token, args.spends, args.concurrency)
            print(
                f"throughput  {args.spends} spends on one balance at {args.concurrency} concurrent: "
                f"{succeeded} succeeded, {succeeded / seconds:.0f} spends/s"
            )
            # 3. Signed webhooks
            seconds, latencies, failures = await _webhooks(http, args.events, args.concurrency)
            events, refunded, ignored = await _applied()
            print(
                f"webhooks    {len(latencies)} signed events at {args.concurrency} concurrent: "
                f"{len(latencies) / seconds:.0f} events/s, p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, non-200 {failures}; "
                f"stored {events} events, {refunded} payments refunded, {ignored} ignored"
            )
    finally:
        await dispose_engine()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spends", type=int, default=200)
    parser.add_argument("--balance", type=int, default=10)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--api-workers", type=int, default=1, help="api processes (uvicorn --workers)")
    args = parser.parse_args()
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    port = free_port()
    api = ["api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.api_workers)]
    with (
        components(database=f"studymate_bench_{uuid.uuid4().hex[:8]}") as tmp,
        studymate(api, tmp / "api.log"),
    ):
        asyncio.run(run(f"http://127.0.0.1:{port}", args))


if __name__ == "__main__":
    main()
