"""Learning sessions: start, track, end, and the live analysis of the signed-in student's own session."""

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

import models.study as rows
from core.db import transaction
from resolvers.study.learning import analysis, live, sessions
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.study.subjects import Subject

LearningEventType = strawberry.enum(analysis.LearningEventType, name="LearningEventType")
LearningAlertKind = strawberry.enum(analysis.LearningAlertKind, name="LearningAlertKind")
LearningSessionEnd = strawberry.enum(rows.LearningSessionEnd, name="LearningSessionEnd")


@strawberry.type
class LearningSession:
    id: strawberry.ID
    subject: Subject
    started_at: datetime
    ended_at: datetime | None
    ended_by: LearningSessionEnd | None = strawberry.field(
        description="USER, or TIMEOUT when the worker ended it after 4 hours."
    )

    @classmethod
    def of(cls, view: sessions.LearningSessionView) -> "LearningSession":
        return cls(
            id=strawberry.ID(str(view.session.id)),
            subject=Subject.from_row(view.subject),
            started_at=view.session.started_at,
            ended_at=view.session.ended_at,
            ended_by=view.session.ended_by,
        )


@strawberry.type
class LearningSessionSummary:
    id: strawberry.ID = strawberry.field(description="The session's id.")
    session: LearningSession
    duration_seconds: int = strawberry.field(description="Measured by the server; at most 4 hours.")
    focus: float
    velocity: float
    efficiency: float

    @classmethod
    def of(cls, summary: sessions.LearningSessionSummary) -> "LearningSessionSummary":
        return cls(
            id=strawberry.ID(str(summary.session.session.id)),
            session=LearningSession.of(summary.session),
            duration_seconds=summary.duration_seconds,
            focus=summary.focus,
            velocity=summary.velocity,
            efficiency=summary.efficiency,
        )


@strawberry.type
class LearningAlert:
    kind: LearningAlertKind
    message: str


@strawberry.type
class LearningAnalysis:
    id: strawberry.ID = strawberry.field(description="The session's id, so client caches keep one analysis.")
    learning_session_id: strawberry.ID
    focus: float = strawberry.field(
        description="0 to 100, exponentially smoothed: towards 100 while active, towards 0 after FOCUS_LOST "
        "or IDLE (time constant 5 minutes)."
    )
    velocity: float = strawberry.field(description="Summaries read and quizzes answered per hour.")
    efficiency: float = strawberry.field(description="Correct answers per active minute.")
    alerts: list[LearningAlert]
    recommendations: list[str]
    ended: bool = strawberry.field(description="True for the final figures of an ended session.")
    computed_at: datetime

    @classmethod
    def of(cls, figures: analysis.LearningAnalysis) -> "LearningAnalysis":
        session_id = strawberry.ID(str(figures.learning_session_id))
        return cls(
            id=session_id,
            learning_session_id=session_id,
            focus=figures.focus,
            velocity=figures.velocity,
            efficiency=figures.efficiency,
            alerts=[LearningAlert(kind=alert.kind, message=alert.message) for alert in figures.alerts],
            recommendations=list(figures.recommendations),
            ended=figures.ended,
            computed_at=figures.computed_at,
        )


@strawberry.type
class LearningMutation:
    @fields.mutation(
        "Starts timing the signed-in user's study of a subject. One open session per subject: another start "
        "is CONFLICT, with the open session's id in extensions.learningSessionId."
    )
    async def start_learning_session(self, info: Info, subject_id: strawberry.ID) -> LearningSession:
        async with transaction() as db:
            view = await sessions.start_learning_session(
                db, info.context.actor, parse_id(subject_id, "Subject")
            )
        return LearningSession.of(view)

    @fields.mutation(
        "Records what the student did, at the server's time. `data` is a JSON object of at most 2 KB; "
        "QUIZ_ANSWERED needs data.correct (true or false). CONFLICT once the session has ended."
    )
    async def track_learning_event(
        self,
        info: Info,
        learning_session_id: strawberry.ID,
        type: LearningEventType,
        data: JSON | None = None,
    ) -> bool:
        async with transaction() as db:
            await sessions.track_learning_event(
                db, info.context.actor, parse_id(learning_session_id, "Learning session"), type, data
            )
        return True

    @fields.mutation("Ends the session at the server's time; ending it again is CONFLICT.")
    async def end_learning_session(self, info: Info, id: strawberry.ID) -> LearningSessionSummary:
        async with transaction() as db:
            summary = await sessions.end_learning_session(
                db, info.context.actor, parse_id(id, "Learning session")
            )
        return LearningSessionSummary.of(summary)


@strawberry.type
class LearningSubscription:
    @fields.subscription(
        "The owner's live analysis: the current figures first, then after tracked events, at most twice a "
        "second (the newest state wins). Ends with the final figures when the session ends."
    )
    async def learning_analytics(
        self, info: Info, learning_session_id: strawberry.ID
    ) -> AsyncGenerator[LearningAnalysis, None]:
        figures = await live.follow_learning_analysis(
            info.context.actor, parse_id(learning_session_id, "Learning session")
        )
        async with aclosing(figures):
            async for current in figures:
                yield LearningAnalysis.of(current)
