"""Members' focus time: the seconds of FOCUS phases a member spends online in the room.

A member is online while a subscription of theirs is open (`online_span`, entered by the live stream
beside its presence lease). Redis keeps when the first of their open subscriptions began, so two devices
do not count twice; when the last one ends, the FOCUS time in between is added to `focus_seconds`.
Leaving or closing the room credits an open span up to that moment first, then records the member's
session as STUDY_TIME (whole minutes, at least one, once per member-session) when the room has a subject.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import transaction
from core.redis import redis
from models.base import utcnow
from models.study import ActivityKind
from models.studyrooms import StudyRoom, StudyRoomMember, TimerPhase
from resolvers.study.activity import record_activity
from resolvers.studyrooms.phases import boundary, timer_at

# Names the STUDY_TIME activity of one member-session (room, member, joined_at).
SESSION_NAMESPACE = uuid.UUID("5b0e3c1e-2f7a-4c55-9d0e-9a1f3b6c7d21")
SPAN_TTL_SECONDS = 2 * 24 * 3600


def focus_overlap(
    started_at: datetime, focus_minutes: int, break_minutes: int, since: datetime, until: datetime
) -> int:
    """Whole seconds of FOCUS phases between `since` and `until` (nothing before the timer started)."""
    moment, total = max(since, started_at), timedelta(0)
    while moment < until:
        state = timer_at(started_at, focus_minutes, break_minutes, moment)
        end = min(state.ends_at, until)
        if state.phase is TimerPhase.FOCUS:
            total += end - moment
        moment = boundary(started_at, focus_minutes, break_minutes, state.index + 1)
    return int(total.total_seconds())


def _span_key(room_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"{{studyroom:{room_id}}}:online:{user_id}"


def credit(room: StudyRoom, member: StudyRoomMember, since: datetime, until: datetime) -> None:
    """Adds the FOCUS time of the room's timer between `since` and `until` to the member."""
    if room.timer_started_at is None or room.focus_minutes is None or room.break_minutes is None:
        return
    since = max(since, member.joined_at)
    if room.closed_at is not None:
        until = min(until, room.closed_at)
    if since < until:
        member.focus_seconds += focus_overlap(
            room.timer_started_at, room.focus_minutes, room.break_minutes, since, until
        )


async def settle_open_span(room: StudyRoom, member: StudyRoomMember, now: datetime) -> None:
    """Credits the member's open span up to `now` and restarts it there (called on leave and close)."""
    key = _span_key(room.id, member.user_id)
    since = await redis().hget(key, "since")  # type: ignore[misc]  # redis-py types hget as sync-or-async
    if since is None:
        return
    credit(room, member, datetime.fromtimestamp(float(since), UTC), now)
    await redis().hset(key, "since", str(now.timestamp()))  # type: ignore[misc]


async def record_session(db: AsyncSession, room: StudyRoom, member: StudyRoomMember, now: datetime) -> None:
    """The member-session's focus time as STUDY_TIME, once (the source id names the session)."""
    minutes = member.focus_seconds // 60
    if room.subject_id is None or minutes < 1:
        return
    source_id = uuid.uuid5(SESSION_NAMESPACE, f"{room.id}:{member.user_id}:{member.joined_at.isoformat()}")
    await record_activity(
        db,
        user_id=member.user_id,
        subject_id=room.subject_id,
        kind=ActivityKind.STUDY_TIME,
        source_id=source_id,
        occurred_at=now,
        minutes=minutes,
    )


@asynccontextmanager
async def online_span(room_id: uuid.UUID, user_id: uuid.UUID) -> AsyncIterator[None]:
    """Counts the member online in the room while the block runs; on the last exit, credits the span."""
    key = _span_key(room_id, user_id)
    async with redis().pipeline(transaction=True) as pipe:
        pipe.hincrby(key, "open", 1)
        pipe.hsetnx(key, "since", str(utcnow().timestamp()))
        pipe.expire(key, SPAN_TTL_SECONDS)
        await pipe.execute()
    try:
        yield
    finally:
        # Shielded: the subscription may be ending because its task was cancelled.
        await asyncio.shield(_end_span(room_id, user_id))


async def _end_span(room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    key = _span_key(room_id, user_id)
    async with redis().pipeline(transaction=True) as pipe:
        pipe.hincrby(key, "open", -1)
        pipe.hget(key, "since")
        still_open, since = (await pipe.execute())[:2]
    if still_open > 0 or since is None:
        return
    await redis().delete(key)
    await _credit_span(room_id, user_id, datetime.fromtimestamp(float(since), UTC))


async def _credit_span(room_id: uuid.UUID, user_id: uuid.UUID, since: datetime) -> None:
    async with transaction() as db:
        room = await db.get(StudyRoom, room_id)
        member = await db.get(StudyRoomMember, (room_id, user_id), with_for_update=True)
        if room is None or member is None or member.left_at is not None:
            return
        credit(room, member, since, utcnow())
