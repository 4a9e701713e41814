"""The live room: a member's subscription reads a snapshot, then the room's changes.

`follow_room` authorises before anything is subscribed (NOT_FOUND to non-members, as for the room
itself). An open stream holds the member's presence lease, as in the classroom. The stream ends after
the room closes or the follower leaves it. Events are published only after the commit (`emit`).

The event classes of broadcast/studyrooms.py are re-exported here: the schema reaches broadcast/ only
through this module.
"""

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.events import BroadcastEvent
from broadcast.hub import Resubscribe
from broadcast.presence import presence_lease
from broadcast.studyrooms import (
    MemberJoined,
    MemberLeft,
    MemberStatusChanged,
    MemberView,
    MessageView,
    RoomChange,
    RoomClosed,
    RoomMessagePosted,
    TimerChanged,
    TimerView,
    room_stream,
)
from core.auth import Actor, UserActor
from core.db import after_commit, read_session
from models.base import utcnow
from models.studyrooms import StudyRoom, StudyRoomMember, StudyRoomMessage
from resolvers.studyrooms.access import member_room
from resolvers.studyrooms.focus import online_span
from resolvers.studyrooms.loaders import current_members

SNAPSHOT_MESSAGES = 50

__all__ = [
    "MemberJoined",
    "MemberLeft",
    "MemberStatusChanged",
    "MemberView",
    "MessageView",
    "RoomChange",
    "RoomClosed",
    "RoomMessagePosted",
    "RoomSnapshot",
    "TimerChanged",
    "TimerView",
    "emit",
    "follow_room",
]


def emit(db: AsyncSession, room_id: uuid.UUID, event: BroadcastEvent) -> None:
    """Publishes `event` on the room's stream once the transaction has committed."""
    stream = room_stream(room_id)
    after_commit(db, lambda: stream.publish(event))


@dataclass(frozen=True)
class RoomSnapshot:
    seq: int
    at: datetime
    room: StudyRoom
    members: list[StudyRoomMember]
    messages: list[StudyRoomMessage]


RoomEvents = AsyncGenerator[RoomSnapshot | RoomChange, None]


async def last_messages(db: AsyncSession, room_id: uuid.UUID) -> list[StudyRoomMessage]:
    """The room's last SNAPSHOT_MESSAGES messages, oldest first."""
    statement = (
        select(StudyRoomMessage)
        .where(col(StudyRoomMessage.room_id) == room_id)
        .order_by(col(StudyRoomMessage.created_at).desc(), col(StudyRoomMessage.id).desc())
        .limit(SNAPSHOT_MESSAGES)
    )
    return list(reversed((await db.execute(statement)).scalars().all()))


async def room_snapshot(db: AsyncSession, room_id: uuid.UUID, seq: int) -> RoomSnapshot:
    room = await db.get(StudyRoom, room_id)
    assert room is not None
    (members,) = await current_members(db, [room_id])
    return RoomSnapshot(seq, utcnow(), room, members, await last_messages(db, room_id))


async def follow_room(actor: Actor, room_id: uuid.UUID) -> RoomEvents:
    """A snapshot, then every change, for a current member; NOT_FOUND to anyone else."""
    async with read_session() as db:
        user, _ = await member_room(db, actor, room_id)
    return _room_events(room_id, user)


async def _room_events(room_id: uuid.UUID, user: UserActor) -> RoomEvents:
    async with presence_lease(room_id, user.user_id), online_span(room_id, user.user_id):
        while True:
            try:
                async for item in _room_pass(room_id, user):
                    yield item
                return
            except Resubscribe:
                # Events may have been missed (the hub reconnected, or this follower fell behind): a fresh
                # snapshot puts the client back in step, and the stream goes on from there.
                continue


async def _room_pass(room_id: uuid.UUID, user: UserActor) -> RoomEvents:
    """One subscription: the snapshot, then the changes after it, until the room closes or the follower
    leaves."""
    async with room_stream(room_id).subscribe() as (seq, events):
        async with read_session() as db:
            snapshot = await room_snapshot(db, room_id, seq)
        yield snapshot
        if snapshot.room.closed_at is not None or all(m.user_id != user.user_id for m in snapshot.members):
            return
        async for event in events:
            if not isinstance(event, RoomChange):
                raise TypeError(f"{event.type_name} does not belong on a study room's stream")
            yield event
            if isinstance(event, RoomClosed) or (
                isinstance(event, MemberLeft) and event.user_id == user.user_id
            ):
                return
