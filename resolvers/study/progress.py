"""A user's progress in one subject, read from the activity log in one statement.

Streaks count consecutive local days (in the user's `timezone`) with any activity in the subject: the
longest such run, and the run that ends today or yesterday (a streak is not broken until a whole local
day passes without activity).

`masteryByTopic` estimates, per quiz topic, how likely the student is to answer correctly now: the
mean of the topic's scores weighted by recency, each answer weighing MASTERY_DECAY times the next newer
one (a half-life of two answers), over the last MASTERY_WINDOW answers. Recency is counted in answers,
not days: a student who got a topic wrong at first and right since should rise quickly, and a break
should not erase what they showed (forgetting is the review scheduler's concern). It is a stand-in until
the personalization issue replaces it with a calibrated model.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor, require_user
from models.base import utcnow
from models.study import ActivityKind, Subject
from resolvers.study.subjects import get_subject

MASTERY_DECAY = 2**-0.5
# Older answers weigh less than 0.1% of the newest one: leaving them out changes nothing visible.
MASTERY_WINDOW = 20


@dataclass(frozen=True)
class ProgressView:
    subject: Subject
    summaries_read: int
    quizzes_answered: int
    correct_rate: float
    mastery_by_topic: dict[str, float]
    current_streak: int
    longest_streak: int
    study_minutes: int


_PROGRESS = text(
    """
WITH zone AS (SELECT timezone FROM users WHERE id = :user_id),
activity AS (
    SELECT a.kind, a.topic, a.score, a.minutes, a.occurred_at,
           (a.occurred_at AT TIME ZONE zone.timezone)::date AS day
    FROM study_activities AS a, zone
    WHERE a.user_id = :user_id AND a.subject_id = :subject_id
),
totals AS (
    SELECT count(*) FILTER (WHERE kind = :summary_read) AS summaries_read,
           count(*) FILTER (WHERE kind = :quiz_answered) AS quizzes_answered,
           coalesce(avg(score) FILTER (WHERE kind = :quiz_answered), 0) AS correct_rate,
           coalesce(sum(minutes) FILTER (WHERE kind = :study_time), 0) AS study_minutes
    FROM activity
),
runs AS (
    -- Gaps and islands: consecutive days minus their rank in date order give one constant per run.
    SELECT count(*) AS length, max(day) AS last_day
    FROM (SELECT day, day - (row_number() OVER (ORDER BY day))::int AS run
          FROM (SELECT DISTINCT day FROM activity) AS days) AS ranked
    GROUP BY run
),
streaks AS (
    SELECT coalesce(max(length), 0) AS longest_streak,
           coalesce(max(length) FILTER (WHERE last_day >= today - 1), 0) AS current_streak
    FROM runs, (SELECT (CAST(:now AS timestamptz) AT TIME ZONE timezone)::date AS today FROM zone) AS local
),
answers AS (
    SELECT topic, score, row_number() OVER (PARTITION BY topic ORDER BY occurred_at DESC) - 1 AS age
    FROM activity
    WHERE kind = :quiz_answered AND topic IS NOT NULL
),
mastery AS (
    SELECT coalesce(jsonb_object_agg(topic, estimate), '{}'::jsonb) AS mastery_by_topic
    FROM (SELECT topic, sum(score * decay ^ age) / sum(decay ^ age) AS estimate
          FROM answers, (SELECT CAST(:decay AS double precision) AS decay) AS weight
          WHERE age < :window GROUP BY topic) AS topics
)
SELECT summaries_read, quizzes_answered, correct_rate, study_minutes,
       current_streak, longest_streak, mastery_by_topic
FROM totals, streaks, mastery
"""
).columns(mastery_by_topic=JSONB)


async def study_progress(
    db: AsyncSession, actor: Actor, subject_id: uuid.UUID, *, now: datetime | None = None
) -> ProgressView:
    """`now` (by default the current time) decides which local day is today for the current streak."""
    user = require_user(actor)
    subject = await get_subject(db, actor, subject_id)
    statement = _PROGRESS.bindparams(
        now=now or utcnow(),
        user_id=user.user_id,
        subject_id=subject.id,
        summary_read=ActivityKind.SUMMARY_READ.value,
        quiz_answered=ActivityKind.QUIZ_ANSWERED.value,
        study_time=ActivityKind.STUDY_TIME.value,
        decay=MASTERY_DECAY,
        window=MASTERY_WINDOW,
    )
    row: Any = (await db.execute(statement)).one()
    return ProgressView(
        subject=subject,
        summaries_read=row.summaries_read,
        quizzes_answered=row.quizzes_answered,
        correct_rate=float(row.correct_rate),
        mastery_by_topic={topic: float(estimate) for topic, estimate in row.mastery_by_topic.items()},
        current_streak=row.current_streak,
        longest_streak=row.longest_streak,
        study_minutes=int(row.study_minutes),
    )
