"""The admins' live monitor: the `systemStatus` subscription."""

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime

import strawberry

from resolvers import monitor
from schema import fields
from schema.context import Info


@strawberry.type
class ComponentStatus:
    name: str
    status: str = strawberry.field(description="up, degraded or down, as /health/ready says.")
    latency_ms: float | None


@strawberry.type
class SystemStatus:
    at: datetime
    components: list[ComponentStatus]
    requests_per_second: float = strawberry.field(description="HTTP requests, over every api process.")
    open_websockets: int
    active_subscriptions: int
    kafka_lag: int = strawberry.field(description="Activity messages not yet drained by the worker.")
    queued_jobs: int = strawberry.field(description="arq jobs waiting, deferred ones included.")

    @classmethod
    def of(cls, status: monitor.SystemStatus) -> "SystemStatus":
        return cls(
            at=status.at,
            components=[
                ComponentStatus(name=c.name, status=c.status.value, latency_ms=c.latency_ms)
                for c in status.components
            ],
            requests_per_second=status.figures.requests_per_second,
            open_websockets=status.figures.open_websockets,
            active_subscriptions=status.figures.active_subscriptions,
            kafka_lag=status.kafka_lag,
            queued_jobs=status.queued_jobs,
        )


@strawberry.type
class MonitorSubscription:
    @fields.subscription(
        "ADMIN only: every 2 s, the figures of /health/ready and /metrics, for every api process."
    )
    async def system_status(self, info: Info) -> AsyncGenerator[SystemStatus, None]:
        statuses = await monitor.follow_system_status(info.context.actor)
        async with aclosing(statuses) as stream:
            async for status in stream:
                yield SystemStatus.of(status)
