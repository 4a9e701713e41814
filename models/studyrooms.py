"""Group study rooms: a host's room, its members and its messages.

A member who leaves keeps their row (with `left_at`), so their focus time stays counted and a rejoin
reuses it; the room's current members are the rows with `left_at IS NULL`.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from models.base import created_at_field, id_field, timestamp_field

ROOM_NAME_LENGTH = 100
MIN_CAPACITY = 2
MAX_CAPACITY = 50
DEFAULT_CAPACITY = 8
INVITE_CODE_LENGTH = 32
STATUS_LENGTH = 80
MESSAGE_LENGTH = 500
MAX_FOCUS_MINUTES = 180
MAX_BREAK_MINUTES = 60


class TimerPhase(StrEnum):
    FOCUS = "FOCUS"
    BREAK = "BREAK"


class StudyRoom(SQLModel, table=True):
    __tablename__ = "study_rooms"
    __table_args__ = (
        CheckConstraint(f"capacity BETWEEN {MIN_CAPACITY} AND {MAX_CAPACITY}", name="capacity"),
        # The `studyRooms` listing: open public rooms, newest first.
        Index(
            "ix_study_rooms_open_public_created_at",
            "created_at",
            "id",
            postgresql_where=text("is_public AND closed_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=ROOM_NAME_LENGTH)
    subject_id: uuid.UUID | None = Field(
        default=None, foreign_key="subjects.id", ondelete="SET NULL", index=True
    )
    host_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    is_public: bool = True
    capacity: int = DEFAULT_CAPACITY
    # Only private rooms have one; shown to the host alone.
    invite_code: str | None = Field(default=None, max_length=INVITE_CODE_LENGTH)
    created_at: datetime = created_at_field()
    closed_at: datetime | None = timestamp_field()
    # The focus timer, while one runs: its phases are computed from these (resolvers/studyrooms/timer.py).
    timer_started_at: datetime | None = timestamp_field()
    focus_minutes: int | None = None
    break_minutes: int | None = None


class StudyRoomMember(SQLModel, table=True):
    __tablename__ = "study_room_members"

    room_id: uuid.UUID = Field(foreign_key="study_rooms.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE", index=True)
    joined_at: datetime = created_at_field()
    left_at: datetime | None = timestamp_field()
    status: str | None = Field(default=None, max_length=STATUS_LENGTH)
    focus_seconds: int = 0


class StudyRoomMessage(SQLModel, table=True):
    __tablename__ = "study_room_messages"
    __table_args__ = (Index("ix_study_room_messages_room_created_at", "room_id", "created_at"),)

    id: uuid.UUID = id_field()
    room_id: uuid.UUID = Field(foreign_key="study_rooms.id", ondelete="CASCADE")
    author_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    text: str = Field(max_length=MESSAGE_LENGTH)
    created_at: datetime = created_at_field()
