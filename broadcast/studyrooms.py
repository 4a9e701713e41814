"""Study-room channels and their typed events.

Like the classroom's, an event carries what subscribers render (the member, the message), so a fan-out
costs no database read per subscriber.
"""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from broadcast.events import BroadcastEvent
from broadcast.streams import SequencedStream
from models.studyrooms import StudyRoomMember, StudyRoomMessage, TimerPhase


def room_stream(room_id: uuid.UUID) -> SequencedStream:
    # The hash tag keeps both keys of a room on one Redis Cluster slot.
    return SequencedStream(f"studyroom:{room_id}", f"{{studyroom:{room_id}}}:seq")


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemberView(_View):
    room_id: uuid.UUID
    user_id: uuid.UUID
    joined_at: datetime
    status: str | None
    focus_seconds: int

    @classmethod
    def of(cls, member: StudyRoomMember) -> "MemberView":
        return cls(
            room_id=member.room_id,
            user_id=member.user_id,
            joined_at=member.joined_at,
            status=member.status,
            focus_seconds=member.focus_seconds,
        )


class MessageView(_View):
    id: uuid.UUID
    room_id: uuid.UUID
    author_id: uuid.UUID
    text: str
    created_at: datetime

    @classmethod
    def of(cls, message: StudyRoomMessage) -> "MessageView":
        return cls(
            id=message.id,
            room_id=message.room_id,
            author_id=message.author_id,
            text=message.text,
            created_at=message.created_at,
        )


class TimerView(_View):
    phase: TimerPhase
    ends_at: datetime
    round: int


class MemberJoined(BroadcastEvent):
    member: MemberView


class MemberLeft(BroadcastEvent):
    user_id: uuid.UUID


class MemberStatusChanged(BroadcastEvent):
    user_id: uuid.UUID
    status: str | None


class RoomMessagePosted(BroadcastEvent):
    message: MessageView


class TimerChanged(BroadcastEvent):
    """The timer entered a new phase, was started, or stopped (`timer` None)."""

    timer: TimerView | None


class RoomClosed(BroadcastEvent):
    closed_at: datetime


RoomChange = MemberJoined | MemberLeft | MemberStatusChanged | RoomMessagePosted | TimerChanged | RoomClosed
