"""Many phones on one session or room: participants seated in bulk, their websockets, and the fan-out's
counter."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from prometheus_client import REGISTRY

from core.auth import issue_participant_token
from core.db import transaction
from models.classroom import Participant
from tests.helpers.client import Subscription, subscription

OPEN_BATCH = 50


async def seat_participants(session_id: uuid.UUID, count: int) -> list[str]:
    """`count` participants of the session in one transaction (joining one by one is the slow part of a
    large test, and not what it is about); their tokens."""
    rows = [Participant(session_id=session_id, display_name=f"Senior {n}") for n in range(count)]
    async with transaction() as db:
        db.add_all(rows)
    return [issue_participant_token(row.id, session_id) for row in rows]


@asynccontextmanager
async def phones(
    api_url: str,
    tokens: Sequence[str],
    protocols: Sequence[str],
    query: str,
    variables: dict[str, Any],
) -> AsyncIterator[list[Subscription]]:
    """One subscription per token, the protocols taken in turn, each past its snapshot."""
    async with AsyncExitStack() as stack:
        subs: list[Subscription] = []

        async def open_one(n: int) -> Subscription:
            protocol = protocols[n % len(protocols)]
            sub = await stack.enter_async_context(subscription(api_url, protocol, token=tokens[n]))
            await sub.start(query, variables)
            snapshot = await sub.next_data(timeout=120)
            assert next(iter(snapshot.values()))["__typename"].endswith("Snapshot"), snapshot
            return sub

        for start in range(0, len(tokens), OPEN_BATCH):
            batch = range(start, min(start + OPEN_BATCH, len(tokens)))
            subs.extend(await asyncio.gather(*(open_one(n) for n in batch)))
        yield subs


async def next_frame(sub: Subscription, timeout: float = 60.0) -> str:
    """The next data message exactly as it came over the wire, skipping keep-alives."""
    async with asyncio.timeout(timeout):
        while True:
            raw = await sub.socket.recv()
            assert isinstance(raw, str)
            kind = json.loads(raw)["type"]
            if kind == "ping":
                await sub.socket.send(json.dumps({"type": "pong"}))
            elif kind not in {"pong", "ka"}:
                assert kind in {"next", "data"}, raw
                return raw


def executions(field: str, event: str) -> float:
    """Executions of `field`'s selection set for events of type `event` so far, cohort or subscriber."""
    total = 0.0
    for mode in ("cohort", "subscriber"):
        labels = {"field": field, "event": event, "mode": mode}
        total += REGISTRY.get_sample_value("studymate_subscription_executions_total", labels) or 0.0
    return total
