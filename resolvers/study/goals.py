"""Study goals: a user's own targets of summaries, quizzes and minutes over a window of local dates.

A goal is ACTIVE until its progress reaches 1 (ACHIEVED, when the activity that completes it is
recorded), its window ends below 1 (EXPIRED, by the `study.close_goals` cron) or its owner abandons it
(ABANDONED). Only ACTIVE goals change. Others' goals do not exist for a user (NOT_FOUND).
"""

import calendar
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.auth import Actor, UserActor, require_user
from core.errors import BadInput, Conflict, NotFound
from models.accounts import User
from models.base import utcnow
from models.study import MAX_GOAL_DAYS, MAX_GOAL_TARGET, GoalKind, GoalStatus, StudyGoal, Subject
from resolvers.study.goal_progress import achieve_reached_goals, goal_progress, goals, lock_user_progress
from resolvers.study.local_time import today_in

# Enough for every day, week and month goal of several subjects at once; it bounds the goal list.
MAX_ACTIVE_GOALS = 50
# `studyGoals` answers the newest this many (by start date): closed goals pile up over the years.
MAX_LISTED_GOALS = 200


@dataclass(frozen=True)
class GoalDraft:
    """What `createStudyGoal` and `updateStudyGoal` send: an update redefines the goal as a whole, with
    the same defaults as a new one."""

    kind: GoalKind
    subject_id: uuid.UUID | None = None
    target_summaries: int | None = None
    target_quizzes: int | None = None
    target_minutes: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None


@dataclass(frozen=True)
class GoalView:
    goal: StudyGoal
    subject: Subject | None
    progress: float


def period_of(kind: GoalKind, day: date) -> tuple[date, date]:
    """The local day, ISO week (Monday to Sunday) or month holding `day`; CUSTOM has none."""
    if kind is GoalKind.DAILY:
        return day, day
    if kind is GoalKind.WEEKLY:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if kind is GoalKind.MONTHLY:
        last = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1), day.replace(day=last)
    raise ValueError("a CUSTOM goal has no period")


def _check_targets(draft: GoalDraft) -> None:
    targets = {
        "targetSummaries": draft.target_summaries,
        "targetQuizzes": draft.target_quizzes,
        "targetMinutes": draft.target_minutes,
    }
    for field, target in targets.items():
        if target is not None and not 1 <= target <= MAX_GOAL_TARGET:
            raise BadInput(f"{field} must be between 1 and {MAX_GOAL_TARGET}", field=field)
    if all(target is None for target in targets.values()):
        raise BadInput(
            "Set at least one of targetSummaries, targetQuizzes and targetMinutes", field="targetSummaries"
        )


def _window(draft: GoalDraft, today: date) -> tuple[date, date]:
    """The goal's first and last local dates. Without dates, a DAILY, WEEKLY or MONTHLY goal covers the
    current period; with only `startsOn`, the period holding it (from `startsOn` on). CUSTOM needs both."""
    if draft.kind is GoalKind.CUSTOM:
        if draft.starts_on is None:
            raise BadInput("A CUSTOM goal needs startsOn", field="startsOn")
        if draft.ends_on is None:
            raise BadInput("A CUSTOM goal needs endsOn", field="endsOn")
        starts_on, ends_on = draft.starts_on, draft.ends_on
    else:
        starts_on = draft.starts_on or period_of(draft.kind, today)[0]
        try:
            ends_on = draft.ends_on or period_of(draft.kind, starts_on)[1]
        except OverflowError as error:
            # The week of 9999-12-31 ends beyond the last date Python knows.
            raise BadInput("startsOn is out of range", field="startsOn") from error
    if ends_on < starts_on:
        raise BadInput("endsOn must not be before startsOn", field="endsOn")
    if ends_on < today:
        raise BadInput("endsOn must not be in the past", field="endsOn")
    if (ends_on - starts_on).days >= MAX_GOAL_DAYS:
        raise BadInput(f"A goal spans at most {MAX_GOAL_DAYS} days", field="endsOn")
    return starts_on, ends_on


async def _checked_window(
    db: AsyncSession, user: UserActor, draft: GoalDraft, now: datetime
) -> tuple[date, date]:
    _check_targets(draft)
    owner = await db.get(User, user.user_id)
    if owner is None:
        raise NotFound("User")
    window = _window(draft, today_in(owner.timezone, now))
    if draft.subject_id is not None and await db.get(Subject, draft.subject_id) is None:
        raise BadInput("Unknown subject", field="subjectId")
    return window


def _views_statement() -> Select[StudyGoal, Subject, float]:
    return (
        select(StudyGoal, Subject, goal_progress().label("progress"))
        .outerjoin(Subject, col(Subject.id) == col(StudyGoal.subject_id))
        # The goals' rows may be in the session already, from before a status change made in SQL.
        .execution_options(populate_existing=True)
    )


async def _view(db: AsyncSession, goal_id: uuid.UUID) -> GoalView:
    goal, subject, progress = (await db.execute(_views_statement().where(col(StudyGoal.id) == goal_id))).one()
    return GoalView(goal, subject, float(progress))


async def list_goals(db: AsyncSession, actor: Actor, status: GoalStatus | None) -> list[GoalView]:
    """The user's goals, newest window first, with their progress: one statement for all of them."""
    user = require_user(actor)
    statement = _views_statement().where(col(StudyGoal.user_id) == user.user_id)
    if status is not None:
        statement = statement.where(col(StudyGoal.status) == status)
    statement = statement.order_by(
        col(StudyGoal.starts_on).desc(), col(StudyGoal.created_at).desc(), col(StudyGoal.id)
    ).limit(MAX_LISTED_GOALS)
    return [
        GoalView(goal, subject, float(progress)) for goal, subject, progress in await db.execute(statement)
    ]


async def create_goal(
    db: AsyncSession, actor: Actor, draft: GoalDraft, *, now: datetime | None = None
) -> GoalView:
    """`now` (by default the current time) decides the user's local today, for the default window."""
    user = require_user(actor)
    now = now or utcnow()
    # Also serialises a user's goal creations, so two concurrent ones cannot both pass the count.
    await lock_user_progress(db, user.user_id)
    starts_on, ends_on = await _checked_window(db, user, draft, now)
    active = select(func.count()).where(
        col(StudyGoal.user_id) == user.user_id, col(StudyGoal.status) == GoalStatus.ACTIVE
    )
    if (await db.execute(active)).scalar_one() >= MAX_ACTIVE_GOALS:
        raise Conflict(f"At most {MAX_ACTIVE_GOALS} goals may be active at once")
    goal = StudyGoal(
        user_id=user.user_id,
        subject_id=draft.subject_id,
        kind=draft.kind,
        target_summaries=draft.target_summaries,
        target_quizzes=draft.target_quizzes,
        target_minutes=draft.target_minutes,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    db.add(goal)
    await db.flush()
    # Activity already in the window may complete the goal at once.
    await achieve_reached_goals(db, goals.c.id == goal.id, now=now)
    return await _view(db, goal.id)


async def _own_active_goal(db: AsyncSession, user: UserActor, goal_id: uuid.UUID) -> StudyGoal:
    goal = await db.get(StudyGoal, goal_id, with_for_update=True)
    if goal is None or goal.user_id != user.user_id:
        raise NotFound("StudyGoal")
    if goal.status is not GoalStatus.ACTIVE:
        raise Conflict(f"The goal is {goal.status.value}, no longer ACTIVE")
    return goal


async def update_goal(
    db: AsyncSession, actor: Actor, goal_id: uuid.UUID, draft: GoalDraft, *, now: datetime | None = None
) -> GoalView:
    """Redefines an ACTIVE goal of the user's by `draft` (CONFLICT once it is closed)."""
    user = require_user(actor)
    now = now or utcnow()
    await lock_user_progress(db, user.user_id)
    goal = await _own_active_goal(db, user, goal_id)
    starts_on, ends_on = await _checked_window(db, user, draft, now)
    goal.kind = draft.kind
    goal.subject_id = draft.subject_id
    goal.target_summaries = draft.target_summaries
    goal.target_quizzes = draft.target_quizzes
    goal.target_minutes = draft.target_minutes
    goal.starts_on = starts_on
    goal.ends_on = ends_on
    goal.updated_at = now
    await db.flush()
    await achieve_reached_goals(db, goals.c.id == goal.id, now=now)
    return await _view(db, goal.id)


async def abandon_goal(db: AsyncSession, actor: Actor, goal_id: uuid.UUID) -> GoalView:
    user = require_user(actor)
    goal = await _own_active_goal(db, user, goal_id)
    now = utcnow()
    goal.status = GoalStatus.ABANDONED
    goal.closed_at = now
    goal.updated_at = now
    await db.flush()
    return await _view(db, goal.id)
