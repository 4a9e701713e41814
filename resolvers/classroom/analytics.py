"""The instructor's figures for a live session (SPEC.md, `SessionAnalytics`)."""

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.presence import presence
from core.auth import Actor
from core.errors import Forbidden
from models.base import utcnow
from models.classroom import (
    HelpRequest,
    HelpStatus,
    LiveSession,
    Participant,
    ParticipantStatus,
    ProgressStatus,
    SessionStatus,
    Step,
    StepProgress,
)
from resolvers.classroom.access import get_session, visible_session
from resolvers.classroom.loaders import live_steps, participants_by_session

STUCK_AFTER = timedelta(minutes=5)


class StuckReason(StrEnum):
    NO_PROGRESS = "NO_PROGRESS"
    HELP_NEEDED = "HELP_NEEDED"


@dataclass(frozen=True)
class StepStats:
    step_id: uuid.UUID
    order: int
    title: str
    started: int
    completed: int
    completion_rate: float
    median_seconds: float | None
    delay_rate: float
    help_rate: float
    bottleneck_score: float


@dataclass(frozen=True)
class StuckParticipant:
    participant_id: uuid.UUID
    display_name: str
    step_id: uuid.UUID | None
    reason: StuckReason
    since: datetime


@dataclass(frozen=True)
class SessionAnalytics:
    session_id: uuid.UUID
    status: SessionStatus
    participants_total: int
    participants_online: int
    open_help_requests: int
    steps: tuple[StepStats, ...]
    stuck: tuple[StuckParticipant, ...]
    average_help_rating: float | None
    median_seconds_to_resolve: float | None
    computed_at: datetime = field(compare=False)


async def session_analytics(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> SessionAnalytics:
    _, seen_as = await visible_session(db, actor, session_id)
    if not seen_as.is_instructor:
        raise Forbidden("Only the session's instructor sees its analytics")
    return await compute_analytics(db, session_id)


async def compute_analytics(db: AsyncSession, session_id: uuid.UUID) -> SessionAnalytics:
    session = await get_session(db, session_id)
    steps = await live_steps(db, session.task_id)
    participants = (await participants_by_session(db, [session.id]))[0]
    progress = list(
        (await db.execute(select(StepProgress).where(col(StepProgress.session_id) == session.id))).scalars()
    )
    requests = list(
        (await db.execute(select(HelpRequest).where(col(HelpRequest.session_id) == session.id))).scalars()
    )
    online = (await presence(session.id)).online
    return analyse(session, steps, participants, progress, requests, online, utcnow())


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def analyse(
    session: LiveSession,
    steps: list[Step],
    participants: list[Participant],
    progress: list[StepProgress],
    requests: list[HelpRequest],
    online: frozenset[uuid.UUID],
    now: datetime,
) -> SessionAnalytics:
    """Pure: the figures of SPEC.md from the session's rows, so tests can pin them exactly."""
    present = [p for p in participants if p.status is not ParticipantStatus.LEFT]
    by_step: dict[uuid.UUID, list[StepProgress]] = defaultdict(list)
    for record in progress:
        by_step[record.step_id].append(record)
    helped: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for request in requests:
        if request.step_id is not None:
            helped[request.step_id].add(request.participant_id)
    stats = tuple(_step_stats(step, by_step[step.id], helped[step.id], len(present), now) for step in steps)
    open_requests = [r for r in requests if r.status is not HelpStatus.RESOLVED]
    # From the rows already read for the figures above: the help figures cost no query of their own.
    ratings = [r.rating for r in requests if r.rating is not None]
    resolving = [
        (r.resolved_at - r.created_at).total_seconds()
        for r in requests
        if r.status is HelpStatus.RESOLVED and r.resolved_at is not None
    ]
    return SessionAnalytics(
        session_id=session.id,
        status=session.status,
        participants_total=len(present),
        participants_online=sum(1 for p in present if p.id in online),
        open_help_requests=len(open_requests),
        steps=stats,
        stuck=tuple(_stuck(session, present, progress, open_requests, now)),
        average_help_rating=round(statistics.mean(ratings), 2) if ratings else None,
        median_seconds_to_resolve=round(statistics.median(resolving), 3) if resolving else None,
        computed_at=now,
    )


def _step_stats(
    step: Step, records: list[StepProgress], helped: set[uuid.UUID], total: int, now: datetime
) -> StepStats:
    durations = [
        (r.completed_at - r.started_at).total_seconds()
        for r in records
        if r.status is ProgressStatus.COMPLETED and r.completed_at and r.started_at
    ]
    median = statistics.median(durations) if durations else None
    started = [r for r in records if r.started_at is not None]
    delayed = 0
    if median is not None:
        for record in started:
            assert record.started_at is not None
            end = record.completed_at if record.status is ProgressStatus.COMPLETED else now
            if end is not None and (end - record.started_at).total_seconds() >= 2 * median:
                delayed += 1
    completion = _rate(len(durations), total)
    delay_rate = _rate(delayed, len(started))
    help_rate = _rate(len(helped), total)
    return StepStats(
        step_id=step.id,
        order=step.position,
        title=step.title,
        started=len(started),
        completed=len(durations),
        completion_rate=completion,
        median_seconds=round(median, 3) if median is not None else None,
        delay_rate=delay_rate,
        help_rate=help_rate,
        bottleneck_score=round(0.4 * delay_rate + 0.4 * help_rate + 0.2 * (1 - completion), 4),
    )


def _stuck(
    session: LiveSession,
    participants: list[Participant],
    progress: list[StepProgress],
    open_requests: list[HelpRequest],
    now: datetime,
) -> list[StuckParticipant]:
    last_activity: dict[uuid.UUID, StepProgress] = {}
    for record in progress:
        latest = last_activity.get(record.participant_id)
        if latest is None or record.updated_at > latest.updated_at:
            last_activity[record.participant_id] = record
    asking: dict[uuid.UUID, HelpRequest] = {}
    for request in open_requests:
        asking.setdefault(request.participant_id, request)
    stuck: list[StuckParticipant] = []
    for participant in participants:
        if participant.status is not ParticipantStatus.ACTIVE:
            continue
        latest = last_activity.get(participant.id)
        asking_now = asking.get(participant.id)
        if asking_now is not None:
            stuck.append(
                StuckParticipant(
                    participant.id,
                    participant.display_name,
                    asking_now.step_id,
                    StuckReason.HELP_NEEDED,
                    asking_now.created_at,
                )
            )
        elif latest is not None and latest.status is ProgressStatus.HELP_NEEDED:
            stuck.append(
                StuckParticipant(
                    participant.id,
                    participant.display_name,
                    latest.step_id,
                    StuckReason.HELP_NEEDED,
                    latest.updated_at,
                )
            )
        elif session.status is SessionStatus.IN_PROGRESS:
            since = max(
                latest.updated_at if latest else participant.joined_at,
                session.started_at or participant.joined_at,
            )
            if now - since >= STUCK_AFTER:
                stuck.append(
                    StuckParticipant(
                        participant.id,
                        participant.display_name,
                        participant.current_step_id,
                        StuckReason.NO_PROGRESS,
                        since,
                    )
                )
    return stuck
