"""A goal's progress, computed in SQL from the activity log, and the goals it closes.

Progress is the mean, over the targets a goal sets, of min(1, done / target), where `done` counts the
user's activity between the goal's local `starts_on` and `ends_on` (both included) in the goal's subject
(every subject when it has none). It is one correlated expression over `study_goals`, so a list of
goals, the goals one activity may complete and the goals the cron closes are each one statement,
whatever their number.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Float, ScalarSelect, case, cast, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models.study import ActivityKind, GoalKind, GoalStatus, StudyActivity, StudyGoal
from resolvers import notifications
from resolvers.study.local_time import local_date, local_midnight, user_timezone

goals = StudyGoal.__table__  # type: ignore[attr-defined]
activities = StudyActivity.__table__  # type: ignore[attr-defined]

GOAL_ACHIEVED = "goal_achieved"


def _share(target: ColumnElement[int], done: ColumnElement[Any]) -> ColumnElement[float]:
    # An unset target adds nothing (`num_nonnulls` counts only the set ones). Spelled as a CASE because
    # LEAST ignores NULLs: least(1, NULL) is 1, not NULL.
    return case(
        (target.is_(None), literal(0.0)), else_=func.least(literal(1.0), cast(done, Float()) / target)
    )


def _count_of(kind: ActivityKind) -> ColumnElement[int]:
    return func.count().filter(activities.c.kind == kind)


def _progress_over(*subject_condition: ColumnElement[bool]) -> ScalarSelect[float]:
    zone = user_timezone(goals.c.user_id)
    minutes = func.coalesce(
        func.sum(activities.c.minutes).filter(activities.c.kind == ActivityKind.STUDY_TIME), 0
    )
    shares = (
        _share(goals.c.target_summaries, _count_of(ActivityKind.SUMMARY_READ))
        + _share(goals.c.target_quizzes, _count_of(ActivityKind.QUIZ_ANSWERED))
        + _share(goals.c.target_minutes, minutes)
    )
    set_targets = func.num_nonnulls(goals.c.target_summaries, goals.c.target_quizzes, goals.c.target_minutes)
    return (
        select(shares / set_targets)
        .where(
            activities.c.user_id == goals.c.user_id,
            *subject_condition,
            activities.c.occurred_at >= local_midnight(goals.c.starts_on, zone),
            activities.c.occurred_at < local_midnight(goals.c.ends_on + 1, zone),
        )
        .correlate(goals)
        .scalar_subquery()
    )


def goal_progress() -> ColumnElement[float]:
    """The progress (0 to 1) of the `study_goals` row the enclosing statement is on."""
    # Two subqueries, of which Postgres runs only the one its CASE branch reaches, rather than one with
    # `subject_id IS NULL OR …`: each is then a range scan of an index on its own columns, (user_id,
    # subject_id, occurred_at) or (user_id, occurred_at), not a scan of all the user's activity.
    return case(
        (goals.c.subject_id.is_(None), _progress_over()),
        else_=_progress_over(activities.c.subject_id == goals.c.subject_id),
    )


async def lock_user_progress(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialises, until the transaction ends, what changes a user's activity or goals.

    The goal check after a change then sees every concurrent change, committed by the time the lock is
    granted (each statement reads a fresh snapshot at READ COMMITTED). Without it, two quiz answers
    committed together could each see a goal one short of its target, and a goal created beside an
    activity could miss it.
    """
    key = func.hashtextextended(f"study_progress:{user_id}", 0)
    await db.execute(select(func.pg_advisory_xact_lock(key)))


class ClosedGoal(NamedTuple):
    id: uuid.UUID
    user_id: uuid.UUID
    kind: GoalKind
    status: GoalStatus
    starts_on: date
    ends_on: date


_RETURNED = (goals.c.id, goals.c.user_id, goals.c.kind, goals.c.status, goals.c.starts_on, goals.c.ends_on)


async def achieve_reached_goals(
    db: AsyncSession, *conditions: ColumnElement[bool], now: datetime
) -> list[ClosedGoal]:
    """Marks the ACTIVE goals matching `conditions` whose progress has reached 1 as ACHIEVED, and
    notifies their owners (inside the caller's transaction)."""
    statement = (
        update(goals)
        .where(goals.c.status == GoalStatus.ACTIVE, *conditions, goal_progress() >= 1)
        .values(status=GoalStatus.ACHIEVED, closed_at=now, updated_at=now)
        .returning(*_RETURNED)
    )
    achieved = [ClosedGoal(*row) for row in await db.execute(statement)]
    await _notify_achieved(db, achieved)
    return achieved


async def close_ended_goals(db: AsyncSession, *, now: datetime) -> list[ClosedGoal]:
    """Closes every ACTIVE goal whose `ends_on` is before the owner's local today: ACHIEVED when its
    progress reached 1 (activity recorded late, or a race), EXPIRED otherwise. Idempotent."""
    today = local_date(now, user_timezone(goals.c.user_id))
    statement = (
        update(goals)
        .where(
            goals.c.status == GoalStatus.ACTIVE,
            # No zone is more than a day ahead of UTC, so this bound holds for every user and lets the
            # partial index on the active goals' end dates narrow the rows before the per-user check.
            goals.c.ends_on <= now.astimezone(UTC).date(),
            goals.c.ends_on < today,
        )
        .values(
            status=case((goal_progress() >= 1, GoalStatus.ACHIEVED.value), else_=GoalStatus.EXPIRED.value),
            closed_at=now,
            updated_at=now,
        )
        .returning(*_RETURNED)
    )
    closed = [ClosedGoal(*row) for row in await db.execute(statement)]
    await _notify_achieved(db, [goal for goal in closed if goal.status is GoalStatus.ACHIEVED])
    return closed


_GOAL_NAMES = {
    GoalKind.DAILY: "daily study goal",
    GoalKind.WEEKLY: "weekly study goal",
    GoalKind.MONTHLY: "monthly study goal",
    GoalKind.CUSTOM: "study goal",
}


def _describe(goal: ClosedGoal) -> str:
    window = goal.starts_on.isoformat()
    if goal.ends_on != goal.starts_on:
        window += f" to {goal.ends_on.isoformat()}"
    return f"{_GOAL_NAMES[goal.kind]} ({window})"


async def _notify_achieved(db: AsyncSession, achieved: list[ClosedGoal]) -> None:
    for goal in achieved:
        await notifications.notify(
            db,
            goal.user_id,
            GOAL_ACHIEVED,
            variables={"goal": _describe(goal)},
            dedupe_key=f"{GOAL_ACHIEVED}:{goal.id}",
            data={"goalId": str(goal.id)},
        )
