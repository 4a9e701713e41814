"""The study goals' cron: goals whose window has ended in their owner's time zone are closed, once."""

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlmodel import col

from core.db import read_session, transaction
from models.study import ActivityKind, GoalKind, GoalStatus, StudyActivity, StudyGoal
from resolvers.study import goals
from resolvers.study.goal_progress import close_ended_goals
from tests.helpers.factories import Account, make_account
from tests.helpers.study import actor, make_subject, notifications_of, record, set_timezone
from workers import study_goals
from workers.settings import WorkerSettings

# Monday 5 January 2026 at noon UTC: a day long gone, for goals that have ended by now.
LONG_AGO = datetime(2026, 1, 5, 12, tzinfo=UTC)


async def daily_goal(account: Account, now: datetime, **targets: int) -> uuid.UUID:
    """A DAILY goal created at `now` (its local day is then today)."""
    async with transaction() as db:
        view = await goals.create_goal(
            db, actor(account), goals.GoalDraft(kind=GoalKind.DAILY, **targets), now=now
        )
    return view.goal.id


async def statuses() -> dict[uuid.UUID, GoalStatus]:
    async with read_session() as db:
        rows = await db.execute(select(col(StudyGoal.id), col(StudyGoal.status)))
        return {goal_id: status for goal_id, status in rows}


async def test_an_ended_goal_below_its_target_expires_once() -> None:
    # Given a student's daily goal from long ago, one summary of two read, and a goal for today
    subject = await make_subject()
    student = await make_account()
    ended = await daily_goal(student, LONG_AGO, target_summaries=2)
    await record(student, subject, ActivityKind.SUMMARY_READ, LONG_AGO)
    current = await daily_goal(student, datetime.now(UTC), target_summaries=2)
    # When the cron job runs, twice
    assert await study_goals.close_goals({}) == 1
    assert await study_goals.close_goals({}) == 0
    # Then the ended goal expired, today's goal is still active, and nobody was notified
    assert await statuses() == {ended: GoalStatus.EXPIRED, current: GoalStatus.ACTIVE}
    assert await notifications_of(student) == []


async def test_a_goal_ends_at_midnight_in_its_owners_time_zone() -> None:
    # Given daily goals for 10 March 2026 of a student in Seoul (UTC+9) and one in Los Angeles (UTC-7)
    seoul, los_angeles = await make_account(), await make_account()
    await set_timezone(seoul, "Asia/Seoul")
    await set_timezone(los_angeles, "America/Los_Angeles")
    seoul_goal = await daily_goal(seoul, datetime(2026, 3, 10, 3, tzinfo=UTC), target_quizzes=3)
    los_angeles_goal = await daily_goal(los_angeles, datetime(2026, 3, 10, 20, tzinfo=UTC), target_quizzes=3)
    # When the cron runs at 10 March 15:30 UTC: already 11 March in Seoul, still 10 March in Los Angeles
    async with transaction() as db:
        first = await close_ended_goals(db, now=datetime(2026, 3, 10, 15, 30, tzinfo=UTC))
    # Then only the Seoul goal has ended
    assert [goal.id for goal in first] == [seoul_goal]
    assert await statuses() == {seoul_goal: GoalStatus.EXPIRED, los_angeles_goal: GoalStatus.ACTIVE}
    # And the Los Angeles goal ends at its own midnight (07:00 UTC on 11 March)
    async with transaction() as db:
        before = await close_ended_goals(db, now=datetime(2026, 3, 11, 6, 59, tzinfo=UTC))
        after = await close_ended_goals(db, now=datetime(2026, 3, 11, 7, 1, tzinfo=UTC))
    assert ([goal.id for goal in before], [goal.id for goal in after]) == ([], [los_angeles_goal])


async def test_an_ended_goal_left_active_at_its_target_is_achieved_and_notified() -> None:
    # Given an ended goal whose target was reached by activity the goal check never saw (as a write
    # racing the check could leave it)
    subject = await make_subject()
    student = await make_account()
    goal_id = await daily_goal(student, LONG_AGO, target_minutes=30)
    async with transaction() as db:
        db.add(
            StudyActivity(
                user_id=student.user.id,
                subject_id=subject.id,
                kind=ActivityKind.STUDY_TIME,
                occurred_at=LONG_AGO,
                minutes=45,
                source_id=uuid.uuid4(),
            )
        )
    # When the cron job runs
    assert await study_goals.close_goals({}) == 1
    # Then the goal is achieved, and its owner notified
    assert await statuses() == {goal_id: GoalStatus.ACHIEVED}
    assert await notifications_of(student) == [("goal_achieved", f"goal_achieved:{goal_id}")]


async def test_closed_goals_stay_as_they_are() -> None:
    student = await make_account()
    abandoned = await daily_goal(student, LONG_AGO, target_summaries=1)
    async with transaction() as db:
        await goals.abandon_goal(db, actor(student), abandoned)

    assert await study_goals.close_goals({}) == 0

    assert await statuses() == {abandoned: GoalStatus.ABANDONED}


def test_the_cron_runs_every_ten_minutes() -> None:
    job = next(job for job in WorkerSettings.cron_jobs if job.name == "study.close_goals")

    assert (job.coroutine, job.minute, job.unique) == (study_goals.close_goals, set(range(0, 60, 10)), True)


def test_a_monthly_window_ends_on_the_last_day_of_its_month() -> None:
    assert goals.period_of(GoalKind.MONTHLY, date(2028, 2, 14)) == (date(2028, 2, 1), date(2028, 2, 29))
