"""Starting, tracking and ending learning sessions. The server measures every time; clients send none.

- One open session per user and subject: starting a second is CONFLICT (with the open one's id in
  `extensions.learningSessionId`, so an app that lost it can carry on with it). A partial unique index
  settles concurrent starts.
- Tracking holds a share lock on the session row while it updates the Redis state, and ending is a
  conditional `UPDATE … WHERE ended_at IS NULL RETURNING`: an end waits for the events in flight, an
  event after the end is CONFLICT, and of two racing ends exactly one succeeds.
- A session lasts at most MAX_SESSION: ended later (by the student, or by the worker's cron), it ends at
  `started_at + MAX_SESSION`, so time nobody was studying is never counted.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import DateTime, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.hub import publish
from broadcast.learning import LearningEventTracked, LearningSessionEnded, learning_channel
from core import text
from core.auth import Actor, require_user
from core.db import after_commit
from core.errors import BadInput, Conflict, NotFound
from core.ratelimit import LEARNING_EVENTS
from models.base import utcnow
from models.study import ActivityKind, LearningSession, LearningSessionEnd, Subject
from resolvers.study.activity import record_activity
from resolvers.study.learning.analysis import LearningEventType, analyse, apply
from resolvers.study.learning.store import MAX_SESSION, load_states, update_state

# An event's `data` is a small JSON object (a quiz id, whether the answer was right), never a payload.
MAX_EVENT_DATA_BYTES = 2048
TIMEOUT_BATCH = 500


@dataclass(frozen=True)
class LearningSessionView:
    session: LearningSession
    subject: Subject


@dataclass(frozen=True)
class LearningSessionSummary:
    session: LearningSessionView
    duration_seconds: int
    focus: float
    velocity: float
    efficiency: float


async def start_learning_session(
    db: AsyncSession, actor: Actor, subject_id: uuid.UUID, *, now: datetime | None = None
) -> LearningSessionView:
    user = require_user(actor)
    subject = await db.get(Subject, subject_id)
    if subject is None:
        raise NotFound("Subject")
    already_open = await db.scalar(
        select(col(LearningSession.id)).where(
            col(LearningSession.user_id) == user.user_id,
            col(LearningSession.subject_id) == subject.id,
            col(LearningSession.ended_at).is_(None),
        )
    )
    if already_open is not None:
        raise _already_open(already_open)
    session = LearningSession(user_id=user.user_id, subject_id=subject.id, started_at=now or utcnow())
    db.add(session)
    try:
        await db.flush()
    except IntegrityError as error:
        # A concurrent start for the same subject won (uq_learning_sessions_open_user_subject).
        raise Conflict("A learning session of this subject is already open") from error
    return LearningSessionView(session, subject)


def _already_open(session_id: uuid.UUID) -> Conflict:
    return Conflict(
        "A learning session of this subject is already open",
        extra={"learningSessionId": str(session_id)},
    )


def event_data_correct(event_type: LearningEventType, data: Any) -> bool:
    """Checks an event's `data` (a JSON object of at most MAX_EVENT_DATA_BYTES) and answers whether it
    reports a correct answer; QUIZ_ANSWERED must say so in `data.correct`, true or false."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput("data must be a JSON object", field="data")
    text.check_json(data, "data")
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_EVENT_DATA_BYTES:
        raise BadInput(f"data must be at most {MAX_EVENT_DATA_BYTES} bytes of JSON", field="data")
    correct = data.get("correct")
    if event_type is LearningEventType.QUIZ_ANSWERED and not isinstance(correct, bool):
        raise BadInput("A QUIZ_ANSWERED event needs data.correct, true or false", field="data.correct")
    return correct is True


async def track_learning_event(
    db: AsyncSession,
    actor: Actor,
    session_id: uuid.UUID,
    event_type: LearningEventType,
    data: Any,
    *,
    now: datetime | None = None,
) -> None:
    user = require_user(actor)
    correct = event_data_correct(event_type, data)
    # FOR SHARE: an end (an UPDATE of this row) waits until this event is in the state, and an event
    # that comes after an end sees it.
    session = await db.scalar(
        select(LearningSession)
        .where(col(LearningSession.id) == session_id, col(LearningSession.user_id) == user.user_id)
        .with_for_update(read=True)
    )
    if session is None:
        raise NotFound("Learning session")
    at = now or utcnow()
    if session.ended_at is not None or at - session.started_at > MAX_SESSION:
        raise Conflict("The learning session has ended")
    # Counted once the event is valid, so a refused one costs nothing.
    await LEARNING_EVENTS.enter(str(user.user_id))
    await update_state(
        session.id, session.started_at, lambda state: apply(state, event_type, at, correct=correct)
    )
    event = LearningEventTracked(learning_session_id=session.id, event_type=event_type.value)
    after_commit(db, partial(publish, learning_channel(session.id), event.payload()))


async def end_learning_session(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, *, now: datetime | None = None
) -> LearningSessionSummary:
    user = require_user(actor)
    at = now or utcnow()
    ended = await db.scalar(
        update(LearningSession)
        .where(
            col(LearningSession.id) == session_id,
            col(LearningSession.user_id) == user.user_id,
            col(LearningSession.ended_at).is_(None),
        )
        .values(
            ended_at=func.least(
                literal(at, DateTime(timezone=True)), col(LearningSession.started_at) + MAX_SESSION
            ),
            ended_by=LearningSessionEnd.USER,
        )
        .returning(LearningSession)
    )
    if ended is None:
        owned = await db.scalar(
            select(col(LearningSession.id)).where(
                col(LearningSession.id) == session_id, col(LearningSession.user_id) == user.user_id
            )
        )
        if owned is None:
            raise NotFound("Learning session")
        raise Conflict("The learning session has already ended")
    [summary] = await _finish(db, [ended], at)
    return summary


async def end_timed_out_sessions(db: AsyncSession, *, now: datetime | None = None) -> int:
    """Ends up to TIMEOUT_BATCH sessions open for more than MAX_SESSION, at `started_at + MAX_SESSION`;
    answers how many. One statement claims them; sessions another transaction holds are skipped, and a
    session already ended is never touched, so running it twice, or beside a student's end, is harmless."""
    at = now or utcnow()
    due = (
        select(col(LearningSession.id))
        .where(col(LearningSession.ended_at).is_(None), col(LearningSession.started_at) <= at - MAX_SESSION)
        .order_by(col(LearningSession.started_at))
        .limit(TIMEOUT_BATCH)
        .with_for_update(skip_locked=True)
    )
    ended = list(
        await db.scalars(
            update(LearningSession)
            .where(
                col(LearningSession.id).in_(due.scalar_subquery()), col(LearningSession.ended_at).is_(None)
            )
            .values(
                ended_at=col(LearningSession.started_at) + MAX_SESSION,
                ended_by=LearningSessionEnd.TIMEOUT,
            )
            .returning(LearningSession)
        )
    )
    if ended:
        await _finish(db, ended, at)
    return len(ended)


async def _finish(
    db: AsyncSession, ended: Sequence[LearningSession], now: datetime
) -> list[LearningSessionSummary]:
    """Writes the final figures of sessions just ended, and tells their live subscribers after the commit.

    Both ways a session ends come through here, in the transaction that ended it, so this is where a
    session's minutes join `studyProgress.studyMinutes` (a STUDY_TIME activity; under a minute, none)."""
    states = await load_states([(session.id, session.started_at) for session in ended])
    subjects = {
        subject.id: subject
        for subject in await db.scalars(
            select(Subject).where(col(Subject.id).in_({session.subject_id for session in ended}))
        )
    }
    summaries: list[LearningSessionSummary] = []
    for session, state in zip(ended, states, strict=True):
        assert session.ended_at is not None
        analysis = analyse(session.id, state, now, session.ended_at)
        session.duration_seconds = int((session.ended_at - session.started_at).total_seconds())
        session.focus = analysis.focus
        session.velocity = analysis.velocity
        session.efficiency = analysis.efficiency
        minutes = session.duration_seconds // 60
        if minutes >= 1:
            await record_activity(
                db,
                user_id=session.user_id,
                subject_id=session.subject_id,
                kind=ActivityKind.STUDY_TIME,
                source_id=session.id,
                occurred_at=session.ended_at,
                minutes=minutes,
            )
        summaries.append(
            LearningSessionSummary(
                session=LearningSessionView(session, subjects[session.subject_id]),
                duration_seconds=session.duration_seconds,
                focus=analysis.focus,
                velocity=analysis.velocity,
                efficiency=analysis.efficiency,
            )
        )
        event = LearningSessionEnded(learning_session_id=session.id)
        after_commit(db, partial(publish, learning_channel(session.id), event.payload()))
    await db.flush()
    return summaries
