"""The instructor's figures for a live session: the query and the live subscription."""

import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime

import strawberry

from core.db import read_session
from resolvers import classroom
from resolvers.classroom import live
from schema import fields
from schema.classroom.loaders import load_participants
from schema.classroom.steps import Step, load_step
from schema.classroom.types import Participant, SessionStatus
from schema.context import Info
from schema.ids import parse_id

StuckReason = strawberry.enum(classroom.StuckReason, name="StuckReason")


@strawberry.type
class StepAnalytics:
    id: strawberry.ID
    order: int
    title: str
    started_count: int
    completed_count: int
    completion_rate: float
    median_seconds: float | None
    delay_rate: float = strawberry.field(description="Share of starters who took at least twice the median.")
    help_rate: float
    bottleneck_score: float = strawberry.field(
        description="0.4 * delay rate + 0.4 * help rate + 0.2 * (1 - completion rate)"
    )

    @strawberry.field
    async def step(self, info: Info) -> Step:
        step = await load_step(info, uuid.UUID(self.id))
        assert step is not None
        return step


@strawberry.type
class StuckStudent:
    participant_id: strawberry.Private[uuid.UUID]
    display_name: str
    reason: StuckReason
    since: datetime
    step_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def participant(self, info: Info) -> Participant:
        row = await info.context.loader(load_participants).load(self.participant_id)
        assert row is not None
        return Participant.from_row(row)

    @strawberry.field
    async def step(self, info: Info) -> Step | None:
        return await load_step(info, self.step_id)


@strawberry.type
class SessionAnalytics:
    id: strawberry.ID
    status: SessionStatus
    participants_total: int
    participants_online: int
    open_help_requests: int
    steps: list[StepAnalytics]
    stuck_students: list[StuckStudent] = strawberry.field(
        description="No progress for 5 minutes, or waiting for help."
    )
    bottleneck_step_id: strawberry.ID | None
    computed_at: datetime
    average_help_rating: float | None = strawberry.field(
        description="The participants' mean rating of resolved help; null before any rating."
    )
    median_seconds_to_resolve: float | None = strawberry.field(
        description="Median time from a help request to its resolution; null before any is resolved."
    )

    @classmethod
    def of(cls, analytics: classroom.SessionAnalytics) -> "SessionAnalytics":
        worst = max(analytics.steps, key=lambda s: s.bottleneck_score, default=None)
        return cls(
            id=strawberry.ID(str(analytics.session_id)),
            status=analytics.status,
            participants_total=analytics.participants_total,
            participants_online=analytics.participants_online,
            open_help_requests=analytics.open_help_requests,
            steps=[
                StepAnalytics(
                    id=strawberry.ID(str(s.step_id)),
                    order=s.order,
                    title=s.title,
                    started_count=s.started,
                    completed_count=s.completed,
                    completion_rate=s.completion_rate,
                    median_seconds=s.median_seconds,
                    delay_rate=s.delay_rate,
                    help_rate=s.help_rate,
                    bottleneck_score=s.bottleneck_score,
                )
                for s in analytics.steps
            ],
            stuck_students=[
                StuckStudent(
                    participant_id=s.participant_id,
                    display_name=s.display_name,
                    reason=s.reason,
                    since=s.since,
                    step_id=s.step_id,
                )
                for s in analytics.stuck
            ],
            bottleneck_step_id=strawberry.ID(str(worst.step_id))
            if worst and worst.bottleneck_score > 0
            else None,
            computed_at=analytics.computed_at,
            average_help_rating=analytics.average_help_rating,
            median_seconds_to_resolve=analytics.median_seconds_to_resolve,
        )


@strawberry.type
class AnalyticsQuery:
    @strawberry.field
    async def session_analytics(self, info: Info, session_id: strawberry.ID) -> SessionAnalytics:
        async with read_session() as db:
            analytics = await classroom.session_analytics(
                db, info.context.actor, parse_id(session_id, "Live session")
            )
        return SessionAnalytics.of(analytics)


@strawberry.type
class AnalyticsSubscription:
    @fields.subscription("Pushed when the figures change, at most twice a second.")
    async def session_analytics(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[SessionAnalytics, None]:
        figures = await live.follow_analytics(info.context.actor, parse_id(session_id, "Live session"))
        async with aclosing(figures):
            async for analytics in figures:
                yield SessionAnalytics.of(analytics)
