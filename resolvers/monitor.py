"""`systemStatus`: the admins' live monitor, every STATUS_SECONDS the figures of `/health/ready` (each
component's status and latency) and of `/metrics` (requests per second, open websockets, running
subscriptions and Kafka consumer lag summed over every api process, queued arq jobs)."""

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime

from aiokafka.errors import KafkaError
from arq.constants import default_queue_name

from core import health, monitor
from core.auth import Actor, Role, require_role
from core.jobs import job_queue
from core.kafka import consumer_lag
from core.settings import get_settings
from models.base import utcnow

STATUS_SECONDS = 2.0


@dataclass(frozen=True)
class SystemStatus:
    at: datetime
    components: list[health.ComponentHealth]
    figures: monitor.ProcessFigures
    kafka_lag: int
    queued_jobs: int


async def _kafka_lag() -> int:
    """Messages not yet drained, over every partition; 0 while Kafka cannot say (its component shows why)."""
    try:
        return sum((await consumer_lag()).values())
    except (KafkaError, OSError, TimeoutError):
        return 0


async def system_status(probe: health.ReadinessProbe) -> SystemStatus:
    readiness, figures, lag, queued = await asyncio.gather(
        probe.readiness(),
        monitor.cluster_figures(),
        _kafka_lag(),
        (await job_queue()).zcard(default_queue_name),
    )
    return SystemStatus(utcnow(), readiness.components, figures, lag, int(queued))


async def follow_system_status(actor: Actor) -> AsyncGenerator[SystemStatus, None]:
    """ADMIN only (FORBIDDEN otherwise, checked before anything runs)."""
    require_role(actor, Role.ADMIN)
    return _statuses()


async def _statuses() -> AsyncGenerator[SystemStatus, None]:
    probe = health.ReadinessProbe(get_settings())
    try:
        while True:
            yield await system_status(probe)
            await asyncio.sleep(STATUS_SECONDS)
    finally:
        await probe.close()
