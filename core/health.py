"""Readiness: can this process reach PostgreSQL, Redis and Kafka, and how fast do they answer.

Each check opens its own short-lived connection with a short timeout, so a hung component shows as
down within CHECK_TIMEOUT_SECONDS instead of hanging the probe, and the answer does not depend on the
state of the process's pools.

A component that has a fallback (Kafka: the api writes activity rows straight to Postgres) registers a
`degraded_reason` provider. While the provider gives a reason, the component reports `degraded` and does
not make the api unready: it still does its job, only another way.

The owner of a component's work may add figures to its entry (Kafka: the drain's consumer lag and dead
letters) with `register_figures`; they inform, and never make the api unready.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

import asyncpg
from aiokafka.client import AIOKafkaClient
from redis.asyncio import Redis

from core.migrations import asyncpg_dsn
from core.settings import Settings

CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], Awaitable[object]]
DegradedReason = Callable[[], str | None]
Figures = Callable[[], Awaitable[dict[str, object]]]

logger = logging.getLogger(__name__)
_degraded_reasons: dict[str, list[DegradedReason]] = {}
_figures: dict[str, list[Figures]] = {}


class Status(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    status: Status
    latency_ms: float
    detail: str | None = None
    figures: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        entry: dict[str, object] = {"status": self.status.value, "latencyMs": self.latency_ms}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {**entry, **self.figures}


def register_degraded_reason(component: str, provider: DegradedReason) -> Callable[[], None]:
    """Lets the owner of a fallback say that a component's work currently goes through it.

    Returns the function that takes the provider back out.
    """
    providers = _degraded_reasons.setdefault(component, [])
    # Every app built in one process registers the same provider; it must count once.
    if provider not in providers:
        providers.append(provider)
    return lambda: providers.remove(provider)


def register_figures(component: str, provider: Figures) -> Callable[[], None]:
    """Adds the figures `provider` returns to the component's entry; a provider that fails or takes longer
    than CHECK_TIMEOUT_SECONDS is left out. Returns the function that takes it back out."""
    providers = _figures.setdefault(component, [])
    if provider not in providers:
        providers.append(provider)
    return lambda: providers.remove(provider)


async def _figures_of(component: str) -> dict[str, object]:
    figures: dict[str, object] = {}
    for provider in _figures.get(component, []):
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                figures |= await provider()
        except Exception:
            logger.warning("readiness figures of %s are not available", component, exc_info=True)
    return figures


def _degraded_reason(component: str) -> str | None:
    return next((r for p in _degraded_reasons.get(component, []) if (r := p()) is not None), None)


async def check_postgres(database_url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=CHECK_TIMEOUT_SECONDS)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()


async def check_redis(redis_url: str) -> None:
    client = Redis.from_url(
        redis_url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


async def check_kafka(bootstrap_servers: str) -> None:
    """A metadata request to the cluster, which is what a producer does first."""
    timeout_ms = int(CHECK_TIMEOUT_SECONDS * 1000)
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=timeout_ms,
        connections_max_idle_ms=timeout_ms * 10,
        client_id="studymate-health",
    )
    try:
        await client.bootstrap()
    finally:
        await client.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    return type(error).__name__


async def _probe(name: str, check: Check) -> ComponentHealth:
    figures = asyncio.ensure_future(_figures_of(name))
    started = time.perf_counter()
    failure: str | None = None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception as error:
        failure = _describe(error)
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    if (reason := _degraded_reason(name)) is not None:
        return ComponentHealth(name, Status.DEGRADED, latency_ms, reason, await figures)
    if failure is not None:
        return ComponentHealth(name, Status.DOWN, latency_ms, failure, await figures)
    return ComponentHealth(name, Status.UP, latency_ms, figures=await figures)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    components: list[ComponentHealth]

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "unready",
            "components": {component.name: component.as_json() for component in self.components},
        }


async def readiness(settings: Settings) -> Readiness:
    checks: dict[str, Check] = {
        "postgres": lambda: check_postgres(settings.database_url),
        "redis": lambda: check_redis(settings.redis_url),
        "kafka": lambda: check_kafka(settings.kafka_bootstrap_servers),
    }
    components = list(await asyncio.gather(*(_probe(name, check) for name, check in checks.items())))
    return Readiness(all(c.status is not Status.DOWN for c in components), components)
