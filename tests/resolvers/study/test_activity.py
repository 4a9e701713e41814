"""`record_activity` under concurrency: two recordings that together complete a goal achieve it."""

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlmodel import col

from core.db import read_session, transaction
from models.study import ActivityKind, GoalKind, GoalStatus, StudyGoal
from resolvers.study import goals
from resolvers.study.activity import record_activity
from tests.helpers.factories import make_account
from tests.helpers.study import actor, make_subject, notifications_of, record

WAITING_FOR_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def until_a_session_waits_for_a_lock() -> None:
    """Postgres is the only witness that a transaction is waiting for a lock, so this polls it."""
    async with asyncio.timeout(10):
        while True:
            async with read_session() as db:
                if (await db.execute(WAITING_FOR_A_LOCK)).scalar_one() > 0:
                    return
            await asyncio.sleep(0.01)


async def test_two_concurrent_recordings_that_complete_a_goal_together_achieve_it() -> None:
    # Given a daily goal of two summaries
    subject = await make_subject()
    student = await make_account()
    now = datetime.now(UTC)
    async with transaction() as db:
        draft = goals.GoalDraft(kind=GoalKind.DAILY, target_summaries=2)
        goal_id = (await goals.create_goal(db, actor(student), draft, now=now)).goal.id
    # When one summary is recorded in a transaction still open while a second recording starts
    async with transaction() as db:
        await record_activity(
            db,
            user_id=student.user.id,
            subject_id=subject.id,
            kind=ActivityKind.SUMMARY_READ,
            source_id=uuid.uuid4(),
            occurred_at=now,
        )
        second = asyncio.create_task(record(student, subject, ActivityKind.SUMMARY_READ, now))
        # The second waits for the first to end instead of checking the goal without its summary
        await until_a_session_waits_for_a_lock()
    await second
    # Then the second saw both summaries: the goal is achieved, and notified once
    async with read_session() as db:
        status = (
            await db.execute(select(col(StudyGoal.status)).where(col(StudyGoal.id) == goal_id))
        ).scalar_one()
    assert status is GoalStatus.ACHIEVED
    assert await notifications_of(student) == [("goal_achieved", f"goal_achieved:{goal_id}")]
