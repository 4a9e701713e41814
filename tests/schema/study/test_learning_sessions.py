"""Learning sessions through the api: start, track, end, and the live analysis on a second api process."""

import asyncio
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from broadcast.learning import learning_channel
from core.auth import Role, UserActor
from core.db import read_session, transaction
from core.errors import Conflict, RateLimited
from core.ratelimit import LEARNING_EVENTS
from core.redis import redis
from models.base import utcnow
from models.study import LearningSession, LearningSessionEnd
from resolvers.study.learning import sessions
from resolvers.study.learning.analysis import LearningEventType
from resolvers.study.learning.store import state_key
from resolvers.study.progress import study_progress
from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, GraphQLClient, error_code, subscription
from tests.helpers.factories import Account, make_account
from tests.helpers.learning import ANALYTICS, END, START, TRACK, make_subject, stored_session, stored_state
from tests.helpers.processes import api_process
from tests.helpers.pubsub import wait_for_subscribers

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]


async def start(gql: GraphQLClient, account: Account, subject_id: uuid.UUID) -> str:
    data = await gql.data(START, {"s": str(subject_id)}, token=account.token)
    session_id: str = data["startLearningSession"]["id"]
    return session_id


async def session_count() -> int:
    async with read_session() as db:
        return (await db.execute(select(func.count()).select_from(LearningSession))).scalar_one()


def actor(account: Account) -> UserActor:
    return UserActor(account.user.id, Role.STUDENT)


async def test_a_student_starts_a_session_of_a_subject(gql) -> None:
    subject = await make_subject("Biology")
    student = await make_account()
    before = utcnow()
    data = (await gql.data(START, {"s": str(subject.id)}, token=student.token))["startLearningSession"]
    assert data["subject"] == {"id": str(subject.id), "name": "Biology"}
    assert data["endedAt"] is None
    assert before <= datetime.fromisoformat(data["startedAt"]) <= utcnow()
    row = await stored_session(data["id"])
    assert row is not None and (row.user_id, row.subject_id, row.ended_at) == (
        student.user.id,
        subject.id,
        None,
    )


async def test_an_unknown_subject_is_not_found_and_nothing_is_written(gql) -> None:
    student = await make_account()
    error = await gql.error(START, {"s": str(uuid.uuid4())}, token=student.token)
    assert error_code(error) == "NOT_FOUND"
    assert await session_count() == 0


async def test_one_open_session_per_subject(gql) -> None:
    chemistry, physics = await make_subject("Chemistry"), await make_subject("Physics")
    student = await make_account()
    open_id = await start(gql, student, chemistry.id)
    # A second start of the same subject names the open session
    error = await gql.error(START, {"s": str(chemistry.id)}, token=student.token)
    assert (error_code(error), error["extensions"]["learningSessionId"]) == ("CONFLICT", open_id)
    # Another subject, or another student, may start at the same time
    await start(gql, student, physics.id)
    await start(gql, await make_account(), chemistry.id)
    # And once ended, the subject may be started again
    await gql.data(END, {"id": open_id}, token=student.token)
    await start(gql, student, chemistry.id)
    assert await session_count() == 4


async def test_the_summary_is_measured_on_the_servers_clock() -> None:
    # Given a session started ten minutes ago with a correct answer after five (times pinned)
    subject = await make_subject()
    student = await make_account()
    t0 = utcnow() - timedelta(minutes=10)
    async with transaction() as db:
        view = await sessions.start_learning_session(db, actor(student), subject.id, now=t0)
    session_id = view.session.id
    async with transaction() as db:
        await sessions.track_learning_event(
            db,
            actor(student),
            session_id,
            LearningEventType.QUIZ_ANSWERED,
            {"correct": True},
            now=t0 + timedelta(minutes=5),
        )
    # When the student ends it at minute ten
    async with transaction() as db:
        summary = await sessions.end_learning_session(
            db, actor(student), session_id, now=t0 + timedelta(minutes=10)
        )
    # Then the figures are those of the ten minutes: one answer an hour * 6, one correct per 10 active minutes
    assert (summary.duration_seconds, summary.focus, summary.velocity, summary.efficiency) == (
        600,
        100.0,
        6.0,
        0.1,
    )
    row = await stored_session(session_id)
    assert row is not None
    assert (row.ended_at, row.ended_by, row.duration_seconds, row.focus, row.velocity, row.efficiency) == (
        t0 + timedelta(minutes=10),
        LearningSessionEnd.USER,
        600,
        100.0,
        6.0,
        0.1,
    )
    # And its ten minutes count in the student's study progress
    async with read_session() as db:
        progress = await study_progress(db, actor(student), subject.id)
    assert progress.study_minutes == 10


async def test_ending_twice_is_a_conflict(gql) -> None:
    student = await make_account()
    session_id = await start(gql, student, (await make_subject()).id)
    summary = (await gql.data(END, {"id": session_id}, token=student.token))["endLearningSession"]
    assert summary["session"]["endedBy"] == "USER"
    assert summary["durationSeconds"] >= 0
    error = await gql.error(END, {"id": session_id}, token=student.token)
    assert error_code(error) == "CONFLICT"
    row = await stored_session(session_id)
    assert row is not None and row.ended_at == datetime.fromisoformat(summary["session"]["endedAt"])


async def test_of_two_racing_ends_exactly_one_succeeds(gql) -> None:
    student = await make_account()
    session_id = await start(gql, student, (await make_subject()).id)
    answers = await asyncio.gather(
        *(gql.execute(END, {"id": session_id}, token=student.token) for _ in range(2))
    )
    succeeded = [answer for answer in answers if not answer.get("errors")]
    refused = [error_code(answer["errors"][0]) for answer in answers if answer.get("errors")]
    assert (len(succeeded), refused) == (1, ["CONFLICT"])


async def test_an_event_after_the_end_is_a_conflict(gql) -> None:
    student = await make_account()
    session_id = await start(gql, student, (await make_subject()).id)
    await gql.data(END, {"id": session_id}, token=student.token)
    error = await gql.error(TRACK, {"id": session_id, "type": "ACTIVE"}, token=student.token)
    assert error_code(error) == "CONFLICT"
    assert await stored_state(session_id) == {}


async def test_a_session_past_four_hours_takes_no_events_and_ends_at_four_hours() -> None:
    student = await make_account()
    t0 = utcnow() - timedelta(hours=5)
    async with transaction() as db:
        view = await sessions.start_learning_session(db, actor(student), (await make_subject()).id, now=t0)
    with pytest.raises(Conflict):
        async with transaction() as db:
            await sessions.track_learning_event(
                db, actor(student), view.session.id, LearningEventType.ACTIVE, None
            )
    async with transaction() as db:
        summary = await sessions.end_learning_session(db, actor(student), view.session.id)
    assert (summary.duration_seconds, summary.session.session.ended_at) == (4 * 3600, t0 + timedelta(hours=4))


async def test_others_can_neither_track_nor_end_a_session(gql) -> None:
    owner, stranger = await make_account(), await make_account()
    session_id = await start(gql, owner, (await make_subject()).id)
    tracked = await gql.error(TRACK, {"id": session_id, "type": "FOCUS_LOST"}, token=stranger.token)
    ended = await gql.error(END, {"id": session_id}, token=stranger.token)
    assert (error_code(tracked), error_code(ended)) == ("NOT_FOUND", "NOT_FOUND")
    row = await stored_session(session_id)
    assert row is not None and row.ended_at is None
    assert await stored_state(session_id) == {}


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("QUIZ_ANSWERED", None, "data.correct"),
        ("QUIZ_ANSWERED", {"correct": "yes"}, "data.correct"),
        ("SUMMARY_READ", ["not", "an", "object"], "data"),
        ("SUMMARY_READ", {"note": "x" * 3000}, "data"),
        ("SUMMARY_READ", {"note": "\u0000"}, "data"),
    ],
)
async def test_bad_event_data_writes_nothing(gql, event_type: str, data: Any, field: str) -> None:
    student = await make_account()
    session_id = await start(gql, student, (await make_subject()).id)
    error = await gql.error(TRACK, {"id": session_id, "type": event_type, "data": data}, token=student.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await stored_state(session_id) == {}


async def test_an_unknown_event_type_is_refused_and_writes_nothing(gql) -> None:
    student = await make_account()
    session_id = await start(gql, student, (await make_subject()).id)
    body = await gql.execute(TRACK, {"id": session_id, "type": "DOZED_OFF"}, token=student.token)
    assert body["errors"] and "DOZED_OFF" in body["errors"][0]["message"]
    assert await stored_state(session_id) == {}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_second_api_process_pushes_the_analysis_at_most_twice_a_second(gql, protocol: str) -> None:
    # Given a student following their session on a second api process
    student = await make_account()
    session_id = await start(gql, student, (await make_subject()).id)
    async with api_process() as second_api, subscription(second_api, protocol, token=student.token) as socket:
        await socket.start(ANALYTICS, {"id": session_id})
        first = (await socket.next_data(timeout=10))["learningAnalytics"]
        assert (first["learningSessionId"], first["focus"], first["efficiency"], first["alerts"]) == (
            session_id,
            100.0,
            0.0,
            [],
        )
        await wait_for_subscribers(learning_channel(uuid.UUID(session_id)))
        # When a burst of 20 correct answers is tracked through the first api process
        for _ in range(20):
            await gql.data(
                TRACK,
                {"id": session_id, "type": "QUIZ_ANSWERED", "data": {"correct": True}},
                token=student.token,
            )
        # Then the pushes converge on the last state (20 correct, over the one-minute floor)
        pushes = [first]
        while pushes[-1]["efficiency"] < 20.0:
            pushes.append((await socket.next_data(timeout=10))["learningAnalytics"])
        assert pushes[-1]["efficiency"] == 20.0
        assert 2 <= len(pushes) < 21
        # And the server computed them at most twice a second
        computed = [datetime.fromisoformat(push["computedAt"]) for push in pushes]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(computed)]
        assert all(gap >= 0.5 for gap in gaps), gaps
        # When the session ends, the final figures come and the subscription completes
        await gql.data(END, {"id": session_id}, token=student.token)
        final = (await socket.next_data(timeout=10))["learningAnalytics"]
        assert (final["ended"], final["efficiency"], final["alerts"], final["recommendations"]) == (
            True,
            20.0,
            [],
            [],
        )
        assert (await socket.receive())["type"] == "complete"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_only_the_owner_follows_the_analysis(api_url, gql, protocol: str) -> None:
    owner, stranger = await make_account(), await make_account()
    session_id = await start(gql, owner, (await make_subject()).id)
    for token, target in ((stranger.token, session_id), (owner.token, str(uuid.uuid4()))):
        async with subscription(api_url, protocol, token=token) as socket:
            await socket.start(ANALYTICS, {"id": target})
            message = await socket.receive()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert error_code(errors[0]) == "NOT_FOUND"
    # Refused before any channel was subscribed
    [(_, subscribed)] = await redis().pubsub_numsub(learning_channel(uuid.UUID(session_id)))
    assert subscribed == 0


async def test_focus_lost_and_reading_show_in_the_next_push(api_url, gql) -> None:
    student = await make_account()
    session_id = await start(gql, student, (await make_subject()).id)
    async with subscription(api_url, TRANSPORT_WS, token=student.token) as socket:
        await socket.start(ANALYTICS, {"id": session_id})
        assert (await socket.next_data())["learningAnalytics"]["focus"] == 100.0
        await wait_for_subscribers(learning_channel(uuid.UUID(session_id)))
        await gql.data(TRACK, {"id": session_id, "type": "FOCUS_LOST"}, token=student.token)
        await gql.data(TRACK, {"id": session_id, "type": "SUMMARY_READ"}, token=student.token)
        pushed = (await socket.next_data())["learningAnalytics"]
        while pushed["velocity"] == 0.0:
            pushed = (await socket.next_data())["learningAnalytics"]
    # One summary over the one-minute floor; reading is activity, so the pause has ended
    assert pushed["velocity"] == 60.0
    state = await stored_state(session_id)
    assert (state["present"], state["studied"]) == ("1", "1")


async def test_an_ended_session_yields_its_final_figures_and_completes(api_url) -> None:
    # Given a session that ended with figures of its own, its Redis state since expired
    student = await make_account()
    t0 = utcnow() - timedelta(minutes=30)
    async with transaction() as db:
        view = await sessions.start_learning_session(db, actor(student), (await make_subject()).id, now=t0)
    session_id = view.session.id
    async with transaction() as db:
        await sessions.track_learning_event(
            db,
            actor(student),
            session_id,
            LearningEventType.QUIZ_ANSWERED,
            {"correct": True},
            now=t0 + timedelta(minutes=5),
        )
    async with transaction() as db:
        await sessions.end_learning_session(db, actor(student), session_id, now=t0 + timedelta(minutes=10))
    await redis().delete(state_key(session_id))
    # When the student follows it
    async with subscription(api_url, LEGACY_WS, token=student.token) as socket:
        await socket.start(ANALYTICS, {"id": str(session_id)})
        final = (await socket.next_data())["learningAnalytics"]
        # Then they get the figures written at the end, and the subscription completes
        assert (final["ended"], final["focus"], final["velocity"], final["efficiency"]) == (
            True,
            100.0,
            6.0,
            0.1,
        )
        assert (await socket.receive())["type"] == "complete"


async def test_a_flood_of_events_is_rate_limited_and_the_refused_one_writes_nothing() -> None:
    # Given a student who has used up their burst of events
    student = await make_account()
    async with transaction() as db:
        view = await sessions.start_learning_session(db, actor(student), (await make_subject()).id)
    await LEARNING_EVENTS.charge(str(student.user.id), LEARNING_EVENTS.capacity)
    # When they send one more at once
    with pytest.raises(RateLimited):
        async with transaction() as db:
            await sessions.track_learning_event(
                db, actor(student), view.session.id, LearningEventType.SUMMARY_READ, None
            )
    # Then it was not counted
    assert await stored_state(view.session.id) == {}
