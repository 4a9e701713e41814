"""The live room: a member's subscription reads a snapshot, then the room's changes.

`follow_room` authorises before anything is subscribed (NOT_FOUND to non-members, as for the room
itself). An open stream holds the member's presence lease, as in the classroom. The stream ends after
the room closes or the follower leaves it. Events are published only after the commit (`emit`).

The event classes of broadcast/studyrooms.py are re-exported here: the schema reaches broadcast/ only
through this module.
"""

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.events import BroadcastEvent
from broadcast.hub import Resubscribe
from broadcast.presence import presence_lease
from broadcast.streams import SequencedStream
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
    "Audience",
    "Following",
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
    "audience",
    "emit",
    "ends_stream",
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


@dataclass(frozen=True)
class Audience:
    """All that a member's rendering of one room change depends on (the schema renders a change from this
    alone). A change shows a user (who joined, who wrote): the user themself, and an admin, see their email
    in it, so they are its `principal`; every other member sees it as nobody in particular does."""

    principal: UserActor | None


EVERYONE = Audience(None)


def audience(event: RoomChange, user: UserActor) -> Audience:
    subject = _subject(event)
    if subject is not None and (subject == user.user_id or user.is_admin):
        return Audience(user)
    return EVERYONE


def _subject(event: RoomChange) -> uuid.UUID | None:
    if isinstance(event, MemberJoined):
        return event.member.user_id
    if isinstance(event, RoomMessagePosted):
        return event.message.author_id
    return None


def ends_stream(event: RoomChange, user: UserActor) -> bool:
    """The follower's stream is over after the room closes or the follower leaves it."""
    return isinstance(event, RoomClosed) or (isinstance(event, MemberLeft) and event.user_id == user.user_id)


def _final(snapshot: RoomSnapshot, user: UserActor) -> bool:
    """Nothing follows the snapshot: the room is closed, or the follower is no longer in it."""
    return snapshot.room.closed_at is not None or all(m.user_id != user.user_id for m in snapshot.members)


@dataclass(frozen=True)
class Following:
    """An authorised member's view of a room. Either `events()`, the stream read by this follower alone,
    or `snapshot()` while holding `presence()`, the changes reaching the follower from a shared reader of
    `stream`."""

    user: UserActor
    room_id: uuid.UUID

    @property
    def stream(self) -> SequencedStream:
        return room_stream(self.room_id)

    def events(self) -> RoomEvents:
        return _room_events(self.room_id, self.user)

    def presence(self) -> AbstractAsyncContextManager[None]:
        """What following holds: the member's presence lease and their online span."""
        return _online(self.room_id, self.user.user_id)

    async def snapshot(self) -> tuple[RoomSnapshot, bool]:
        """A snapshot at the stream's current `seq` (the caller subscribed to `stream` before, so no change
        after it is missed), and whether it is the last thing the follower gets."""
        seq = await self.stream.current()
        async with read_session() as db:
            snapshot = await room_snapshot(db, self.room_id, seq)
        return snapshot, _final(snapshot, self.user)


async def follow_room(actor: Actor, room_id: uuid.UUID) -> Following:
    """A snapshot, then every change, for a current member; NOT_FOUND to anyone else."""
    async with read_session() as db:
        user, _ = await member_room(db, actor, room_id)
    return Following(user, room_id)


@asynccontextmanager
async def _online(room_id: uuid.UUID, user_id: uuid.UUID) -> AsyncIterator[None]:
    async with presence_lease(room_id, user_id), online_span(room_id, user_id):
        yield


async def _room_events(room_id: uuid.UUID, user: UserActor) -> RoomEvents:
    async with _online(room_id, user.user_id):
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
        if _final(snapshot, user):
            return
        async for event in events:
            if not isinstance(event, RoomChange):
                raise TypeError(f"{event.type_name} does not belong on a study room's stream")
            yield event
            if ends_stream(event, user):
                return
