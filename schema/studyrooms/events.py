"""The live room's GraphQL types: the StudyRoomEvent union and its subscription, and what members say.

The subscription authorises through resolvers/studyrooms/live.py, then converts each typed event it
yields; every member of the union has `seq` and `at`.
"""

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Annotated, assert_never

import strawberry

from core import metrics
from core.auth import Actor
from core.db import transaction
from resolvers.studyrooms import live, messages
from schema import fanout, fields
from schema.context import Info
from schema.ids import parse_id
from schema.studyrooms.types import FocusTimer, StudyRoom, StudyRoomMember, StudyRoomMessage


@strawberry.type
class StudyRoomSnapshot:
    seq: int
    at: datetime
    room: StudyRoom
    members: list[StudyRoomMember] = strawberry.field(description="With their presence and status.")
    timer: FocusTimer | None
    messages: list[StudyRoomMessage] = strawberry.field(description="The last 50, oldest first.")


@strawberry.type
class MemberJoined:
    seq: int
    at: datetime
    member: StudyRoomMember


@strawberry.type
class MemberLeft:
    seq: int
    at: datetime
    user_id: strawberry.ID


@strawberry.type
class MemberStatusChanged:
    seq: int
    at: datetime
    user_id: strawberry.ID
    status: str | None


@strawberry.type
class RoomMessagePosted:
    seq: int
    at: datetime
    message: StudyRoomMessage


@strawberry.type
class TimerChanged:
    seq: int
    at: datetime
    timer: FocusTimer | None = strawberry.field(description="Null once the timer is stopped.")


@strawberry.type
class RoomClosed:
    seq: int
    at: datetime
    closed_at: datetime


StudyRoomEvent = Annotated[
    StudyRoomSnapshot
    | MemberJoined
    | MemberLeft
    | MemberStatusChanged
    | RoomMessagePosted
    | TimerChanged
    | RoomClosed,
    strawberry.union("StudyRoomEvent"),
]


def _snapshot(snapshot: live.RoomSnapshot, actor: Actor) -> StudyRoomSnapshot:
    room = StudyRoom.from_row(snapshot.room, actor)
    return StudyRoomSnapshot(
        seq=snapshot.seq,
        at=snapshot.at,
        room=room,
        members=[StudyRoomMember.from_row(row) for row in snapshot.members],
        timer=room.timer,
        messages=[StudyRoomMessage.from_row(row) for row in snapshot.messages],
    )


def _change(event: live.RoomChange) -> StudyRoomEvent:
    """A change as every member sees it; what differs between members (a user's email) is resolved below
    it from the execution's principal, which the fan-out takes from `live.audience`."""
    seq, at = _position(event)
    if isinstance(event, live.MemberJoined):
        return MemberJoined(seq=seq, at=at, member=StudyRoomMember.from_row(event.member))
    if isinstance(event, live.MemberLeft):
        return MemberLeft(seq=seq, at=at, user_id=strawberry.ID(str(event.user_id)))
    if isinstance(event, live.MemberStatusChanged):
        return MemberStatusChanged(
            seq=seq, at=at, user_id=strawberry.ID(str(event.user_id)), status=event.status
        )
    if isinstance(event, live.RoomMessagePosted):
        return RoomMessagePosted(seq=seq, at=at, message=StudyRoomMessage.from_row(event.message))
    if isinstance(event, live.TimerChanged):
        return TimerChanged(seq=seq, at=at, timer=FocusTimer.of(event.timer))
    if isinstance(event, live.RoomClosed):
        return RoomClosed(seq=seq, at=at, closed_at=event.closed_at)
    assert_never(event)


def _position(event: live.RoomChange) -> tuple[int, datetime]:
    """A sequenced stream always sets both; an event without them did not come from one."""
    if event.seq is None or event.at is None:
        raise ValueError(f"{event.type_name} arrived without seq and at")
    return event.seq, event.at


def _room_change(event: object) -> live.RoomChange:
    if not isinstance(event, live.RoomChange):
        raise TypeError(f"{type(event).__name__} does not belong on a study room's stream")
    return event


# After its snapshot, `studyRoomEvents` renders each change alone; the audience names the one member (the
# change's subject, or an admin) whose own email the execution may show.
STUDY_ROOM_EVENTS = fanout.declare(
    fanout.Broadcastable(
        field="studyRoomEvents",
        audience=lambda event, user: live.audience(_room_change(event), user),
        render=lambda event, _audience: _change(_room_change(event)),
        seq=lambda event: _position(_room_change(event))[0],
        ends=lambda event, user: live.ends_stream(_room_change(event), user),
        event_name=lambda event: type(event).__name__,
    )
)


# Every current member sees a room alike; what differs between them is in the audience.
_MEMBER = "member"


@strawberry.type
class EventsSubscription:
    @fields.subscription(
        "Members only (NOT_FOUND otherwise): a snapshot, then every change, `seq` growing by exactly one; "
        "it ends after the room closes or the subscriber leaves."
    )
    async def study_room_events(
        self, info: Info, room_id: strawberry.ID
    ) -> AsyncGenerator[StudyRoomEvent, None]:
        actor = info.context.actor
        following = await live.follow_room(actor, parse_id(room_id, "StudyRoom"))
        member = fanout.joining()
        if member is not None:
            # Over a websocket: only the snapshot is this member's own; the changes reach it from the
            # fan-out, executed once per cohort and audience. A fresh snapshot runs the operation again.
            if not member.joined:
                await member.retain(following.presence())
            await member.join(following.stream, _MEMBER, following.user)
            snapshot, final = await following.snapshot()
            member.snapshot_taken(snapshot.seq, final=final)
            yield _snapshot(snapshot, actor)
            return
        async with aclosing(following.events()) as events:
            async for event in events:
                if isinstance(event, live.RoomSnapshot):
                    yield _snapshot(event, actor)
                    continue
                executions = metrics.subscription_executions.labels(
                    STUDY_ROOM_EVENTS.field, type(event).__name__, "subscriber"
                )
                executions.inc()
                yield _change(event)


@strawberry.type
class MessagesMutation:
    @fields.mutation("Members of an open room; at most 80 characters, an empty status clears it.")
    async def set_study_status(self, info: Info, room_id: strawberry.ID, status: str) -> bool:
        async with transaction() as db:
            await messages.set_status(db, info.context.actor, parse_id(room_id, "StudyRoom"), status)
        return True

    @fields.mutation(
        "Members of an open room; plain text, 1 to 500 characters, ten at once and then one a second."
    )
    async def send_study_room_message(
        self, info: Info, room_id: strawberry.ID, text: str
    ) -> StudyRoomMessage:
        async with transaction() as db:
            row = await messages.send_message(db, info.context.actor, parse_id(room_id, "StudyRoom"), text)
        return StudyRoomMessage.from_row(row)


__all__ = ["EventsSubscription", "MessagesMutation"]
