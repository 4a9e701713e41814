"""The study room's node types: the room, its members, its messages and its timer."""

import uuid
from datetime import datetime

import strawberry

import models.studyrooms as rows
from broadcast.presence import presence
from core.auth import Actor
from core.db import read_session
from resolvers.studyrooms import loaders, rooms, timer
from resolvers.studyrooms.live import MemberView, MessageView, TimerView
from resolvers.studyrooms.phases import TimerState
from schema import fields
from schema.accounts import User, load_users
from schema.context import Info
from schema.study.subjects import Subject, load_subjects


async def load_current_members(room_ids: list[uuid.UUID]) -> list[list[rows.StudyRoomMember]]:
    async with read_session() as db:
        return await loaders.current_members(db, room_ids)


async def load_online_members(room_ids: list[uuid.UUID]) -> list[frozenset[uuid.UUID]]:
    """Who is online in each room (presence lives in Redis, one pipeline per room)."""
    return [(await presence(room_id)).online for room_id in room_ids]


async def _user(info: Info, user_id: uuid.UUID) -> User:
    user = await info.context.loader(load_users).load(str(user_id))
    assert user is not None
    return user


@strawberry.type
class StudyRoomMember:
    joined_at: datetime
    status: str | None
    focus_seconds: int
    room_id: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, member: rows.StudyRoomMember | MemberView) -> "StudyRoomMember":
        return cls(
            joined_at=member.joined_at,
            status=member.status,
            focus_seconds=member.focus_seconds,
            room_id=member.room_id,
            user_id=member.user_id,
        )

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await _user(info, self.user_id)

    @fields.field("Subscribed to the room's events, or heartbeating, right now.")
    async def online(self, info: Info) -> bool:
        return self.user_id in await info.context.loader(load_online_members).load(self.room_id)


TimerPhase = strawberry.enum(rows.TimerPhase, name="TimerPhase")


@strawberry.type
class FocusTimer:
    phase: TimerPhase
    ends_at: datetime
    round: int = strawberry.field(
        description="1 for the first focus phase and the break after it, and so on."
    )

    @classmethod
    def of(cls, state: TimerState | TimerView | None) -> "FocusTimer | None":
        return cls(phase=state.phase, ends_at=state.ends_at, round=state.round) if state else None


@strawberry.type
class StudyRoomMessage:
    id: strawberry.ID
    text: str
    created_at: datetime
    author_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, message: rows.StudyRoomMessage | MessageView) -> "StudyRoomMessage":
        return cls(
            id=strawberry.ID(str(message.id)),
            text=message.text,
            created_at=message.created_at,
            author_id=message.author_id,
        )

    @strawberry.field
    async def author(self, info: Info) -> User:
        return await _user(info, self.author_id)


@strawberry.type
class StudyRoom:
    id: strawberry.ID
    name: str
    is_public: bool
    capacity: int
    invite_code: str | None = strawberry.field(description="Only for the host, and only of a private room.")
    created_at: datetime
    closed_at: datetime | None
    timer: FocusTimer | None = strawberry.field(description="The running focus timer; null when none runs.")
    subject_id: strawberry.Private[uuid.UUID | None]
    host_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, room: rows.StudyRoom, actor: Actor) -> "StudyRoom":
        return cls(
            id=strawberry.ID(str(room.id)),
            name=room.name,
            is_public=room.is_public,
            capacity=room.capacity,
            invite_code=rooms.visible_invite_code(actor, room),
            created_at=room.created_at,
            closed_at=room.closed_at,
            timer=FocusTimer.of(timer.room_timer(room)),
            subject_id=room.subject_id,
            host_id=room.host_id,
        )

    @strawberry.field
    async def subject(self, info: Info) -> Subject | None:
        if self.subject_id is None:
            return None
        row = await info.context.loader(load_subjects).load(self.subject_id)
        return Subject.from_row(row) if row is not None else None

    @strawberry.field
    async def host(self, info: Info) -> User:
        return await _user(info, self.host_id)

    @fields.field("The current members, in the order they joined.")
    async def members(self, info: Info) -> list[StudyRoomMember]:
        members = await info.context.loader(load_current_members).load(uuid.UUID(self.id))
        return [StudyRoomMember.from_row(member) for member in members]
