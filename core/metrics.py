"""Prometheus metrics of the api process, and hooks that refresh gauges owned by other parts.

A scrape hook is awaited before every `/metrics` render: values that live elsewhere (the worker's Kafka
lag in Redis, queue lengths) are read into gauges then, instead of by a background loop.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

logger = logging.getLogger(__name__)

ScrapeHook = Callable[[], Awaitable[None]]
SCRAPE_HOOK_TIMEOUT_SECONDS = 2.0
# Operation names come from clients; past this many distinct ones, the rest share one label value so a
# client cannot blow up the number of time series.
MAX_OPERATION_NAMES = 500
OTHER_OPERATION = "other"
ANONYMOUS_OPERATION = "anonymous"

http_requests = Counter(
    "studymate_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
http_latency = Histogram(
    "studymate_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"]
)
graphql_operations = Counter(
    "studymate_graphql_operations_total",
    "GraphQL operations by name, type and outcome",
    ["operation", "type", "outcome"],
)
graphql_latency = Histogram(
    "studymate_graphql_operation_duration_seconds",
    "Time to run a GraphQL query or mutation",
    ["operation", "type"],
)
websocket_connections = Gauge(
    "studymate_websocket_connections", "Open GraphQL websocket connections", ["protocol"]
)
active_subscriptions = Gauge("studymate_graphql_subscriptions", "Running GraphQL subscriptions")
# One per execution of a subscription's selection set for a published event (snapshots are not counted):
# `cohort` executions serve every subscriber of a cohort, `subscriber` ones a single subscriber.
subscription_executions = Counter(
    "studymate_subscription_executions_total",
    "Executions of a subscription's selection set for a published event",
    ["field", "event", "mode"],
)

_scrape_hooks: list[ScrapeHook] = []
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return ANONYMOUS_OPERATION
    if name in _operation_names:
        return name
    if len(_operation_names) >= MAX_OPERATION_NAMES:
        return OTHER_OPERATION
    _operation_names.add(name)
    return name


def register_scrape_hook(hook: ScrapeHook) -> Callable[[], None]:
    """Has `/metrics` await `hook` before rendering; returns the function that takes it back out."""
    _scrape_hooks.append(hook)
    return lambda: _scrape_hooks.remove(hook)


async def _run_hook(hook: ScrapeHook) -> None:
    try:
        async with asyncio.timeout(SCRAPE_HOOK_TIMEOUT_SECONDS):
            await hook()
    except Exception:
        # One broken source must not take every other metric down with it.
        logger.exception("metrics scrape hook %s failed", getattr(hook, "__qualname__", hook))


async def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, after the scrape hooks refreshed theirs."""
    await asyncio.gather(*(_run_hook(hook) for hook in _scrape_hooks))
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
