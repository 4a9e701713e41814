"""Creating, finding, joining, leaving and closing study rooms."""

import uuid

import strawberry

from core.db import read_session, transaction
from core.errors import BadInput
from resolvers.studyrooms import rooms, timer
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.relay import Connection
from schema.studyrooms.types import FocusTimer, StudyRoom


def _subject_id(value: strawberry.ID | None) -> uuid.UUID | None:
    """An input's subject that is not an id of ours names no subject: BAD_USER_INPUT, like an unknown one."""
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise BadInput(rooms.NO_SUCH_SUBJECT, field="subjectId") from error


@strawberry.input
class StudyRoomInput:
    name: str = strawberry.field(description="1 to 100 characters.")
    subject_id: strawberry.ID | None = None
    is_public: bool | None = strawberry.field(default=None, description="True unless given.")
    capacity: int | None = strawberry.field(default=None, description="2 to 50 members, 8 unless given.")

    def draft(self) -> rooms.RoomDraft:
        return rooms.RoomDraft(
            name=self.name,
            subject_id=_subject_id(self.subject_id),
            is_public=self.is_public,
            capacity=self.capacity,
        )


@strawberry.type
class RoomsQuery:
    @fields.field("Open public rooms, newest first; `subjectId` keeps one subject's.")
    async def study_rooms(
        self,
        info: Info,
        subject_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[StudyRoom]:
        actor = info.context.actor
        async with read_session() as db:
            page = await rooms.list_open_rooms(
                db,
                actor,
                subject_id=parse_id(subject_id, "Subject") if subject_id is not None else None,
                first=first,
                after=after,
            )
        return Connection.from_page(page, lambda row: StudyRoom.from_row(row, actor))

    @fields.field("Members only: to anyone else the room is NOT_FOUND.")
    async def study_room(self, info: Info, id: strawberry.ID) -> StudyRoom | None:
        actor = info.context.actor
        async with read_session() as db:
            row = await rooms.get_room(db, actor, parse_id(id, "StudyRoom"))
        return StudyRoom.from_row(row, actor)


@strawberry.type
class RoomsMutation:
    @fields.mutation("Any signed-in user; the creator hosts the room and is its first member.")
    async def create_study_room(self, info: Info, input: StudyRoomInput) -> StudyRoom:
        actor = info.context.actor
        async with transaction() as db:
            row = await rooms.create_room(db, actor, input.draft())
        return StudyRoom.from_row(row, actor)

    @fields.mutation(
        "A private room needs the host's invite code (a wrong one answers NOT_FOUND); a full or closed "
        "room answers CONFLICT. Joining a room one is in changes nothing."
    )
    async def join_study_room(
        self, info: Info, id: strawberry.ID, invite_code: str | None = None
    ) -> StudyRoom:
        actor = info.context.actor
        async with transaction() as db:
            row, _ = await rooms.join_room(db, actor, parse_id(id, "StudyRoom"), invite_code)
        return StudyRoom.from_row(row, actor)

    @fields.mutation("Members only. The host's leaving closes the room.")
    async def leave_study_room(self, info: Info, id: strawberry.ID) -> bool:
        async with transaction() as db:
            await rooms.leave_room(db, info.context.actor, parse_id(id, "StudyRoom"))
        return True

    @fields.mutation("The host only; closing a closed room changes nothing.")
    async def close_study_room(self, info: Info, id: strawberry.ID) -> StudyRoom:
        actor = info.context.actor
        async with transaction() as db:
            row, _ = await rooms.close_room(db, actor, parse_id(id, "StudyRoom"))
        return StudyRoom.from_row(row, actor)

    @fields.mutation(
        "The host (re)starts focus/break cycles now: focus 1 to 180 minutes, break 1 to 60. The server "
        "times the phases and pushes TimerChanged at each change."
    )
    async def start_focus_timer(
        self, info: Info, room_id: strawberry.ID, focus_minutes: int, break_minutes: int
    ) -> FocusTimer:
        async with transaction() as db:
            state = await timer.start_timer(
                db, info.context.actor, parse_id(room_id, "StudyRoom"), focus_minutes, break_minutes
            )
        started = FocusTimer.of(state)
        assert started is not None
        return started
