"""Readiness: can this process reach PostgreSQL, Redis and Kafka, and how fast do they answer.

Each check has a short timeout, so a hung component shows as down within CHECK_TIMEOUT_SECONDS
instead of hanging the probe. Checks go through the process's pools and their result is cached for
CACHE_SECONDS (see ReadinessProbe).

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

from aiokafka.client import AIOKafkaClient
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core import db
from core.redis import redis
from core.settings import Settings, get_settings

CHECK_TIMEOUT_SECONDS = 2.0
CACHE_SECONDS = 1.0

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


async def check_postgres(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def check_redis(client: Redis) -> None:
    await client.ping()


async def check_kafka(bootstrap_servers: str) -> None:
    """A metadata request to the cluster, which is what a producer does first. Kafka has no pool of ours
    to borrow (the producer's client is its own), so this connects; the probe's cache bounds it to one
    connection per second."""
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


@dataclass(frozen=True)
class _Outcome:
    """What one check found: the failure (None when it answered), how long it took, and the figures its
    component's owner added."""

    failure: str | None
    latency_ms: float
    figures: dict[str, object]


async def _probe(name: str, check: Check) -> _Outcome:
    figures = asyncio.ensure_future(_figures_of(name))
    started = time.perf_counter()
    failure: str | None = None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception as error:
        failure = _describe(error)
    return _Outcome(failure, round((time.perf_counter() - started) * 1000, 1), await figures)


def _component(name: str, outcome: _Outcome) -> ComponentHealth:
    # Fallbacks are this process's own knowledge, read fresh on every call.
    if (reason := _degraded_reason(name)) is not None:
        return ComponentHealth(name, Status.DEGRADED, outcome.latency_ms, reason, outcome.figures)
    if outcome.failure is not None:
        return ComponentHealth(name, Status.DOWN, outcome.latency_ms, outcome.failure, outcome.figures)
    return ComponentHealth(name, Status.UP, outcome.latency_ms, figures=outcome.figures)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    components: list[ComponentHealth]

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "unready",
            "components": {component.name: component.as_json() for component in self.components},
        }


class ReadinessProbe:
    """Answers `/health/ready` for one app.

    It checks through the process's own pools (the engine of core.db, the client of core.redis), so a
    probe costs no new connection; an app built with other addresses (tests) gets pools of its own,
    kept for its lifetime. One round of checks serves every call for CACHE_SECONDS, and concurrent calls
    wait for the same round: a burst of probes from a load balancer costs one round.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: AsyncEngine | None = None
        self._redis: Redis | None = None
        self._outcomes: dict[str, _Outcome] | None = None
        self._checked_at = 0.0
        self._round: asyncio.Future[dict[str, _Outcome]] | None = None

    def _postgres(self) -> AsyncEngine:
        if self.settings.database_url == get_settings().database_url:
            return db.engine()
        if self._engine is None:
            self._engine = create_async_engine(self.settings.database_url, pool_size=1, max_overflow=0)
        return self._engine

    def _redis_client(self) -> Redis:
        if self.settings.redis_url == get_settings().redis_url:
            return redis()
        if self._redis is None:
            self._redis = Redis.from_url(self.settings.redis_url)
        return self._redis

    async def _check_all(self) -> dict[str, _Outcome]:
        checks: dict[str, Check] = {
            "postgres": lambda: check_postgres(self._postgres()),
            "redis": lambda: check_redis(self._redis_client()),
            "kafka": lambda: check_kafka(self.settings.kafka_bootstrap_servers),
        }
        outcomes = await asyncio.gather(*(_probe(name, check) for name, check in checks.items()))
        return dict(zip(checks, outcomes, strict=True))

    async def _outcomes_now(self) -> dict[str, _Outcome]:
        if self._outcomes is not None and time.monotonic() - self._checked_at < CACHE_SECONDS:
            return self._outcomes
        if self._round is None:
            self._round = asyncio.ensure_future(self._check_all())
            self._round.add_done_callback(self._finish_round)
        # Shielded: a caller that gives up must not cancel the round the others wait for.
        return await asyncio.shield(self._round)

    def _finish_round(self, round_: asyncio.Future[dict[str, _Outcome]]) -> None:
        self._round = None
        if not round_.cancelled() and round_.exception() is None:
            self._outcomes = round_.result()
            self._checked_at = time.monotonic()

    async def readiness(self) -> "Readiness":
        components = [_component(name, outcome) for name, outcome in (await self._outcomes_now()).items()]
        return Readiness(all(c.status is not Status.DOWN for c in components), components)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
