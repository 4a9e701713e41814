"""The focus timer: timed by the server from its start, phases announced by the worker at each boundary
(an arq job deferred until it, idempotent, scheduling the next), no drift however long it runs."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from arq.constants import default_queue_name
from sqlalchemy import update
from sqlmodel import col

from core.db import read_session, transaction
from core.jobs import job_queue
from models.studyrooms import StudyRoom, TimerPhase
from resolvers.studyrooms.timer import BOUNDARY_JOB, boundary, schedule_boundary, timer_at
from tests.helpers.client import TRANSPORT_WS, error_code
from tests.helpers.factories import make_account
from tests.helpers.studyrooms import ROOM, create_room, following_room, join_room, room_event
from workers.studyrooms import timer_boundary

START = """
mutation($id: ID!, $f: Int!, $b: Int!) {
  startFocusTimer(roomId: $id, focusMinutes: $f, breakMinutes: $b) { phase endsAt round } }"""
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("minute", "phase", "ends", "round_"),
    [
        (0, TimerPhase.FOCUS, 25, 1),
        (24.99, TimerPhase.FOCUS, 25, 1),
        (25, TimerPhase.BREAK, 30, 1),
        (30, TimerPhase.FOCUS, 55, 2),
        (239.99, TimerPhase.BREAK, 240, 8),
        (240, TimerPhase.FOCUS, 265, 9),
    ],
)
def test_phases_come_from_the_start_time(minute: float, phase: TimerPhase, ends: float, round_: int) -> None:
    state = timer_at(T0, 25, 5, at(minute))
    assert (state.phase, state.ends_at, state.round) == (phase, at(ends), round_)


def test_four_hours_of_boundaries_do_not_drift() -> None:
    # 16 phases of 25 and 5 minutes end exactly four hours after the start, to the microsecond
    assert boundary(T0, 25, 5, 16) == T0 + timedelta(hours=4)
    assert boundary(T0, 7, 3, 48) == T0 + timedelta(hours=4)
    assert [boundary(T0, 25, 5, k) - T0 for k in (1, 2, 3)] == [timedelta(minutes=m) for m in (25, 30, 55)]


def job_id(room_id: str, started_at: datetime, index: int) -> str:
    return f"{BOUNDARY_JOB}:{room_id}:{started_at.isoformat()}:{index}"


async def deferred_until(job: str) -> datetime | None:
    score = await (await job_queue()).zscore(default_queue_name, job)
    return None if score is None else datetime.fromtimestamp(score / 1000, UTC)


async def stored_room(room_id: str) -> StudyRoom:
    async with read_session() as db:
        room = await db.get(StudyRoom, uuid.UUID(room_id))
    assert room is not None
    return room


async def test_the_host_starts_the_timer_members_see_it_and_the_first_boundary_is_scheduled(
    api_url, gql
) -> None:
    # Given a room with a member following it
    host, member = await make_account(), await make_account()
    room = await create_room(gql, host)
    await join_room(gql, member, room["id"])
    async with following_room(api_url, TRANSPORT_WS, member, room["id"]) as sub:
        snapshot = await room_event(sub)
        # When the host starts 25/5 cycles
        started = (await gql.data(START, {"id": room["id"], "f": 25, "b": 5}, token=host.token))[
            "startFocusTimer"
        ]
        # Then the member sees the first FOCUS phase, numbered after the snapshot
        changed = await room_event(sub)
    stored = await stored_room(room["id"])
    assert stored.timer_started_at is not None
    ends_at = stored.timer_started_at + timedelta(minutes=25)
    assert started == {"phase": "FOCUS", "endsAt": ends_at.isoformat(), "round": 1}
    assert changed == {
        "__typename": "TimerChanged",
        "seq": snapshot["seq"] + 1,
        "at": changed["at"],
        "timer": started,
    }
    seen = (await gql.data(ROOM, {"id": room["id"]}, token=member.token))["studyRoom"]
    assert seen["timer"] == started
    # And the worker's job for the break is queued for exactly its start
    first = await deferred_until(job_id(room["id"], stored.timer_started_at, 1))
    assert first is not None and abs(first - ends_at) < timedelta(milliseconds=2)


@pytest.mark.parametrize(
    ("focus", "pause", "field"),
    [(0, 5, "focusMinutes"), (181, 5, "focusMinutes"), (25, 0, "breakMinutes"), (25, 61, "breakMinutes")],
)
async def test_out_of_range_minutes_are_refused_and_no_timer_starts(
    gql, focus: int, pause: int, field: str
) -> None:
    host = await make_account()
    room = await create_room(gql, host)
    error = await gql.error(START, {"id": room["id"], "f": focus, "b": pause}, token=host.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert (await stored_room(room["id"])).timer_started_at is None


async def test_only_the_host_starts_the_timer(gql) -> None:
    host, member, stranger = await make_account(), await make_account(), await make_account()
    room = await create_room(gql, host)
    await join_room(gql, member, room["id"])
    refused = await gql.error(START, {"id": room["id"], "f": 25, "b": 5}, token=member.token)
    hidden = await gql.error(START, {"id": room["id"], "f": 25, "b": 5}, token=stranger.token)
    assert (error_code(refused), error_code(hidden)) == ("FORBIDDEN", "NOT_FOUND")
    assert (await stored_room(room["id"])).timer_started_at is None


async def test_the_worker_announces_each_boundary_once_and_schedules_the_next(api_url, gql) -> None:
    # Given a 1/1 timer that started a minute ago (its first boundary due now)
    host = await make_account()
    room = await create_room(gql, host)
    started_at = datetime.now(UTC) - timedelta(minutes=1, seconds=1)
    async with transaction() as db:
        await db.execute(
            update(StudyRoom)
            .where(col(StudyRoom.id) == uuid.UUID(room["id"]))
            .values(timer_started_at=started_at, focus_minutes=1, break_minutes=1)
        )
        stored = await db.get(StudyRoom, uuid.UUID(room["id"]))
        assert stored is not None
        schedule_boundary(db, stored, 1)
    assert await deferred_until(job_id(room["id"], started_at, 1)) is not None
    async with following_room(api_url, TRANSPORT_WS, host, room["id"]) as sub:
        snapshot = await room_event(sub)
        assert snapshot["timer"]["phase"] == "BREAK"
        # When the boundary's job runs, and runs again (a retry)
        first = await timer_boundary({}, room["id"], started_at.isoformat(), 1)
        again = await timer_boundary({}, room["id"], started_at.isoformat(), 1)
        # Then the break is announced once, ending two minutes after the start
        changed = await room_event(sub)
        assert (first, again) == (True, False)
        assert changed["seq"] == snapshot["seq"] + 1
        assert changed["timer"] == {
            "phase": "BREAK",
            "endsAt": (started_at + timedelta(minutes=2)).isoformat(),
            "round": 1,
        }
    # And the next boundary is queued for exactly the start plus two minutes
    following = await deferred_until(job_id(room["id"], started_at, 2))
    assert following is not None and abs(following - (started_at + timedelta(minutes=2))) < timedelta(
        milliseconds=2
    )


async def test_a_restarted_timer_or_a_closed_room_silences_the_old_jobs(gql) -> None:
    host = await make_account()
    room = await create_room(gql, host)
    await gql.data(START, {"id": room["id"], "f": 25, "b": 5}, token=host.token)
    old = (await stored_room(room["id"])).timer_started_at
    assert old is not None
    await gql.data(START, {"id": room["id"], "f": 50, "b": 10}, token=host.token)
    assert await timer_boundary({}, room["id"], old.isoformat(), 1) is False
    current = (await stored_room(room["id"])).timer_started_at
    assert current is not None
    await gql.data(
        "mutation($id: ID!) { closeStudyRoom(id: $id) { timer { phase } } }",
        {"id": room["id"]},
        token=host.token,
    )
    assert await timer_boundary({}, room["id"], current.isoformat(), 1) is False
