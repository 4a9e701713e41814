"""Members' focus time: FOCUS seconds while online, recorded as study time when they leave or the room
closes (once per member-session)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col

from core.db import read_session, transaction
from core.redis import redis
from models.studyrooms import StudyRoom, StudyRoomMember
from resolvers.studyrooms.focus import focus_overlap
from tests.helpers.client import TRANSPORT_WS
from tests.helpers.factories import Account, make_account
from tests.helpers.study import make_subject
from tests.helpers.studyrooms import (
    CLOSE_ROOM,
    LEAVE_ROOM,
    create_room,
    following_room,
    join_room,
    room_event,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROGRESS = "query($s: ID!) { studyProgress(subjectId: $s) { studyMinutes } }"


def test_only_focus_phases_after_the_start_count() -> None:
    def minutes(a: float, b: float) -> float:
        return focus_overlap(T0, 25, 5, T0 + timedelta(minutes=a), T0 + timedelta(minutes=b)) / 60

    assert minutes(20, 35) == 10  # 5 before the break, 5 after it
    assert minutes(-30, 10) == 10  # nothing before the start
    assert minutes(25, 30) == 0
    assert minutes(0, 240) == 200  # eight rounds of 25


async def run_timer_since(room_id: str, minutes_ago: int) -> None:
    """A 25/5 timer that started `minutes_ago`."""
    async with transaction() as db:
        await db.execute(
            update(StudyRoom)
            .where(col(StudyRoom.id) == uuid.UUID(room_id))
            .values(
                timer_started_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
                focus_minutes=25,
                break_minutes=5,
            )
        )


async def online_since(room_id: str, account: Account, minutes_ago: float) -> None:
    """Moves the member's joining and the start of their open online span back in time, as if they had been
    in the room and online longer."""
    since = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    async with transaction() as db:
        await db.execute(
            update(StudyRoomMember)
            .where(
                col(StudyRoomMember.room_id) == uuid.UUID(room_id),
                col(StudyRoomMember.user_id) == account.user.id,
            )
            .values(joined_at=since)
        )
    await redis().hset(f"{{studyroom:{room_id}}}:online:{account.id}", "since", str(since.timestamp()))


async def focus_seconds(room_id: str, account: Account) -> int:
    async with read_session() as db:
        member = await db.get(StudyRoomMember, (uuid.UUID(room_id), account.user.id))
    assert member is not None
    return member.focus_seconds


async def test_a_member_online_during_focus_gets_study_minutes_when_leaving(api_url, gql) -> None:
    # Given a room about a subject whose timer is ten minutes into a focus phase
    subject = await make_subject("Physics")
    host, member = await make_account(), await make_account()
    room = await create_room(gql, host, subjectId=str(subject.id))
    await join_room(gql, member, room["id"])
    await run_timer_since(room["id"], 10)
    # And the member online for the last three minutes
    async with following_room(api_url, TRANSPORT_WS, member, room["id"]) as sub:
        await room_event(sub)
        await online_since(room["id"], member, 3)
        # When they leave
        await gql.data(LEAVE_ROOM, {"id": room["id"]}, token=member.token)
    # Then their three minutes of focus count in their study progress, once
    assert 180 <= await focus_seconds(room["id"], member) < 190
    progress = (await gql.data(PROGRESS, {"s": str(subject.id)}, token=member.token))["studyProgress"]
    assert progress == {"studyMinutes": 3}
    # And the host, never online, has none
    host_progress = (await gql.data(PROGRESS, {"s": str(subject.id)}, token=host.token))["studyProgress"]
    assert host_progress == {"studyMinutes": 0}


async def test_closing_the_room_records_every_online_members_focus(api_url, gql) -> None:
    subject = await make_subject("Chemistry")
    host, member = await make_account(), await make_account()
    room = await create_room(gql, host, subjectId=str(subject.id))
    await join_room(gql, member, room["id"])
    await run_timer_since(room["id"], 4)
    async with following_room(api_url, TRANSPORT_WS, member, room["id"]) as sub:
        await room_event(sub)
        await online_since(room["id"], member, 2)
        await gql.data(CLOSE_ROOM, {"id": room["id"]}, token=host.token)
        assert (await room_event(sub))["__typename"] == "RoomClosed"
    progress = (await gql.data(PROGRESS, {"s": str(subject.id)}, token=member.token))["studyProgress"]
    assert progress == {"studyMinutes": 2}
    # And the stream's own end adds nothing after the close
    assert 120 <= await focus_seconds(room["id"], member) < 130


async def test_focus_time_counts_when_the_last_subscription_ends(api_url, gql) -> None:
    host = await make_account()
    room = await create_room(gql, host)
    await run_timer_since(room["id"], 10)
    async with following_room(api_url, TRANSPORT_WS, host, room["id"]) as first:
        await room_event(first)
        await online_since(room["id"], host, 1)
        async with following_room(api_url, TRANSPORT_WS, host, room["id"]) as second:
            await room_event(second)
        assert await focus_seconds(room["id"], host) == 0
    for _ in range(100):
        if await focus_seconds(room["id"], host) >= 60:
            break
        await asyncio.sleep(0.05)
    assert 60 <= await focus_seconds(room["id"], host) < 70
