"""The live system monitor's figures, the same as `/health/ready` and `/metrics` show, for every api process.

Each api process writes its own figures (requests per second, open websockets, running subscriptions,
from the Prometheus metrics of core/metrics.py) to one Redis hash every REPORT_SECONDS; `cluster_figures`
sums the fresh entries, so any process answers for all of them. A crashed process's entry goes stale and
stops counting after STALE_SECONDS.
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass

from prometheus_client import Metric
from redis.exceptions import RedisError

from core import metrics
from core.redis import redis

logger = logging.getLogger(__name__)

PROCESSES_KEY = "monitor:processes"
REPORT_SECONDS = 1.0
STALE_SECONDS = 5.0
PROCESS_ID = uuid.uuid4().hex


@dataclass(frozen=True)
class ProcessFigures:
    requests_per_second: float
    open_websockets: int
    active_subscriptions: int


def _total(metric: Metric | None, suffix: str = "") -> float:
    if metric is None:
        return 0.0
    return sum(sample.value for sample in metric.samples if sample.name == metric.name + suffix)


def _collected(collector: object) -> Metric | None:
    collected = list(collector.collect())  # type: ignore[attr-defined]
    return collected[0] if collected else None


def _requests_total() -> float:
    return _total(_collected(metrics.http_requests), "_total")


class _Reporter:
    def __init__(self) -> None:
        self._last: tuple[float, float] | None = None

    def figures(self) -> ProcessFigures:
        now, total = time.monotonic(), _requests_total()
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (total - self._last[1]) / (now - self._last[0])
        self._last = (now, total)
        return ProcessFigures(
            requests_per_second=rate,
            open_websockets=int(_total(_collected(metrics.websocket_connections))),
            active_subscriptions=int(_total(_collected(metrics.active_subscriptions))),
        )


async def report_forever() -> None:
    """Runs for the api process's lifetime; a Redis outage only skips reports."""
    reporter = _Reporter()
    try:
        while True:
            figures = reporter.figures()
            entry = json.dumps({"at": time.time(), **figures.__dict__})
            try:
                await redis().hset(PROCESSES_KEY, PROCESS_ID, entry)  # type: ignore[misc]  # redis-py types hset as sync-or-async
            except RedisError as error:
                logger.warning("monitor figures not reported: %s", error)
            await asyncio.sleep(REPORT_SECONDS)
    finally:
        with contextlib.suppress(RedisError):
            await asyncio.shield(redis().hdel(PROCESSES_KEY, PROCESS_ID))  # type: ignore[arg-type]


async def cluster_figures() -> ProcessFigures:
    """The sum over every api process that reported within STALE_SECONDS."""
    entries = await redis().hgetall(PROCESSES_KEY)  # type: ignore[misc]  # redis-py types hgetall as sync-or-async
    fresh = [json.loads(raw) for raw in entries.values()]
    fresh = [entry for entry in fresh if entry["at"] >= time.time() - STALE_SECONDS]
    return ProcessFigures(
        requests_per_second=sum(entry["requests_per_second"] for entry in fresh),
        open_websockets=sum(entry["open_websockets"] for entry in fresh),
        active_subscriptions=sum(entry["active_subscriptions"] for entry in fresh),
    )
