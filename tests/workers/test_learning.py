"""The worker's timeout: learning sessions open for more than 4 hours are ended, once."""

import json
from datetime import timedelta

from broadcast.learning import learning_channel
from core.auth import Role, UserActor
from core.db import transaction
from core.redis import redis
from models.base import utcnow
from models.study import LearningSessionEnd
from resolvers.study.learning import sessions
from resolvers.study.learning.analysis import LearningEventType
from tests.helpers.factories import make_account
from tests.helpers.learning import make_subject, stored_session
from workers import learning
from workers.settings import WorkerSettings


async def test_a_session_open_for_four_hours_is_ended_once_at_its_limit() -> None:
    # Given one session started 4 hours and a minute ago, with a correct answer, and one started 3 hours ago
    account = await make_account()
    student = UserActor(account.user.id, Role.STUDENT)
    chemistry, physics = await make_subject("Chemistry"), await make_subject("Physics")
    old_start = utcnow() - timedelta(hours=4, minutes=1)
    async with transaction() as db:
        old = (await sessions.start_learning_session(db, student, chemistry.id, now=old_start)).session
        recent = (
            await sessions.start_learning_session(db, student, physics.id, now=utcnow() - timedelta(hours=3))
        ).session
    async with transaction() as db:
        await sessions.track_learning_event(
            db,
            student,
            old.id,
            LearningEventType.QUIZ_ANSWERED,
            {"correct": True},
            now=old_start + timedelta(hours=2),
        )
    # When the cron runs, twice, while someone listens on the session's channel
    async with redis().pubsub() as listener:
        await listener.subscribe(learning_channel(old.id))
        assert (await listener.get_message(timeout=5) or {}).get("type") == "subscribe"
        assert await learning.end_timed_out({}) == 1
        assert await learning.end_timed_out({}) == 0
        messages = [await listener.get_message(ignore_subscribe_messages=True, timeout=5) for _ in range(2)]
    # Then its live subscribers heard of the end once
    assert [json.loads(m["data"])["type"] if m else None for m in messages] == ["LearningSessionEnded", None]
    # And the old session ended at its 4-hour limit with its final figures, and the recent one is open
    ended = await stored_session(old.id)
    assert ended is not None
    assert (ended.ended_at, ended.ended_by, ended.duration_seconds, ended.velocity, ended.efficiency) == (
        old_start + timedelta(hours=4),
        LearningSessionEnd.TIMEOUT,
        4 * 3600,
        0.25,
        round(1 / 240, 3),
    )
    still_open = await stored_session(recent.id)
    assert still_open is not None and still_open.ended_at is None


async def test_a_session_the_student_ended_is_left_alone() -> None:
    account = await make_account()
    student = UserActor(account.user.id, Role.STUDENT)
    start = utcnow() - timedelta(hours=5)
    async with transaction() as db:
        view = await sessions.start_learning_session(db, student, (await make_subject()).id, now=start)
    async with transaction() as db:
        await sessions.end_learning_session(db, student, view.session.id, now=start + timedelta(minutes=30))
    assert await learning.end_timed_out({}) == 0
    row = await stored_session(view.session.id)
    assert row is not None
    assert (row.ended_by, row.duration_seconds) == (LearningSessionEnd.USER, 1800)


def test_the_worker_runs_the_timeout_every_five_minutes() -> None:
    [job] = [job for job in WorkerSettings.cron_jobs if job.name == "learning.end_timed_out"]
    assert job.minute == set(range(0, 60, 5))
