"""The study activity log's one entry point, for every feature whose activity counts towards progress.

Reading a summary, answering a quiz question and time spent in a learning session each call
`record_activity` inside their own transaction; `studyProgress`, streaks and goals read only the log.
"""

import math
import uuid
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import text
from models.base import utcnow
from models.study import ACTIVITY_TOPIC_LENGTH, ActivityKind, StudyActivity
from resolvers.study.goal_progress import achieve_reached_goals, goals, lock_user_progress
from resolvers.study.local_time import local_date, user_timezone

activities = StudyActivity.__table__  # type: ignore[attr-defined]

# The target each kind of activity counts towards: a goal without it cannot be moved by that kind.
_TARGET_OF = {
    ActivityKind.SUMMARY_READ: goals.c.target_summaries,
    ActivityKind.QUIZ_ANSWERED: goals.c.target_quizzes,
    ActivityKind.STUDY_TIME: goals.c.target_minutes,
}


def _check(kind: ActivityKind, occurred_at: datetime, score: float | None, minutes: int) -> None:
    """The callers are our own features: a value out of shape is a bug in one of them, not user input."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    if kind is ActivityKind.QUIZ_ANSWERED:
        if score is None or not math.isfinite(score) or not 0 <= score <= 1:
            raise ValueError("a quiz answer's score must be between 0 and 1")
    elif score is not None:
        raise ValueError(f"{kind} has no score")
    if kind is ActivityKind.STUDY_TIME:
        if minutes < 1:
            raise ValueError("study time must be at least one minute")
    elif minutes != 0:
        raise ValueError(f"{kind} has no minutes")


async def record_activity(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    subject_id: uuid.UUID,
    kind: ActivityKind,
    source_id: uuid.UUID,
    occurred_at: datetime,
    topic: str | None = None,
    score: float | None = None,
    minutes: int = 0,
) -> None:
    """Records one activity in the caller's transaction; recording the same (`kind`, `source_id`) again
    does nothing. Then marks the user's ACTIVE goals this activity completes as ACHIEVED, with an in-app
    notification each.

    `score` (0 to 1) is for QUIZ_ANSWERED only, `minutes` (at least 1) for STUDY_TIME only (ValueError
    otherwise); `topic` is cleaned by `core.text` (BadInput `topic` beyond 200 characters). Holds a
    per-user lock until the caller's transaction ends (see `lock_user_progress`).
    """
    _check(kind, occurred_at, score, minutes)
    cleaned_topic = text.clean(topic, "topic", max_length=ACTIVITY_TOPIC_LENGTH, collapse_spaces=True)
    await lock_user_progress(db, user_id)
    inserted = await db.execute(
        insert(activities)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            subject_id=subject_id,
            kind=kind,
            occurred_at=occurred_at,
            topic=cleaned_topic,
            score=score,
            minutes=minutes,
            source_id=source_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[activities.c.kind, activities.c.source_id])
        .returning(activities.c.id)
    )
    if inserted.scalar_one_or_none() is None:
        return
    day = local_date(occurred_at, user_timezone(goals.c.user_id))
    await achieve_reached_goals(
        db,
        goals.c.user_id == user_id,
        or_(goals.c.subject_id.is_(None), goals.c.subject_id == subject_id),
        _TARGET_OF[kind].is_not(None),
        goals.c.starts_on <= day,
        goals.c.ends_on >= day,
        now=utcnow(),
    )
