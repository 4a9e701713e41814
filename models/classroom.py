"""Tables of the classroom domain: lectures, tasks and steps, live sessions and what happens in them.

Steps are never deleted or recreated: an edit bumps `version` and keeps the old content in
`step_revisions`, a removal sets `removed_at`. Progress and help requests point at step ids, so neither
ever loses its history.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, CheckConstraint, Column, Index, Integer, text
from sqlmodel import Field, SQLModel

from core.db import feeds_cached_reads
from models.base import created_at_field, enum_type, id_field, timestamp_field


class TargetAction(StrEnum):
    CLICK = "CLICK"
    LONG_CLICK = "LONG_CLICK"
    SCROLL = "SCROLL"
    INPUT = "INPUT"
    NAVIGATE = "NAVIGATE"


class SessionStatus(StrEnum):
    WAITING = "WAITING"
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    ENDED = "ENDED"


class ParticipantStatus(StrEnum):
    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    LEFT = "LEFT"


class ProgressStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    HELP_NEEDED = "HELP_NEEDED"


class HelpStatus(StrEnum):
    PENDING = "PENDING"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


class HelpType(StrEnum):
    """How an instructor can best help: a written hint, speaking, a highlight on the phone, showing it."""

    TEXT = "TEXT"
    VOICE = "VOICE"
    OVERLAY = "OVERLAY"
    DEMO = "DEMO"


class Lecture(SQLModel, table=True):
    __tablename__ = "lectures"
    __table_args__ = (Index("ix_lectures_instructor_created", "instructor_id", "created_at"),)

    id: uuid.UUID = id_field()
    instructor_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollments"

    lecture_id: uuid.UUID = Field(foreign_key="lectures.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
    created_at: datetime = created_at_field()


class Task(SQLModel, table=True):
    __tablename__ = "tasks"

    id: uuid.UUID = id_field()
    lecture_id: uuid.UUID = Field(foreign_key="lectures.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class UiTarget(BaseModel):
    """The on-screen element a step points at, as Android's accessibility tree names it. One shape for
    recorded events, analysed steps and task steps; stored as snake_case JSON without empty keys."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    view_id: str | None = None
    text: str | None = None
    content_description: str | None = None
    bounds: str | None = None
    package_name: str | None = None
    class_name: str | None = None

    def stored(self) -> dict[str, str] | None:
        """The JSON kept in the database: None when the target names nothing."""
        values = self.model_dump(exclude_none=True)
        return values or None


class StepContent(SQLModel):
    """What a student is shown for a step; a step and each of its revisions hold one."""

    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    target_action: TargetAction | None = Field(default=None, sa_type=enum_type(TargetAction))
    guide_text: str = Field(max_length=2000)
    voice_guide_text: str | None = Field(default=None, max_length=2000)
    # UiTarget.stored(): snake_case keys, empty ones left out.
    target_hint: dict[str, str] | None = Field(default=None, sa_type=JSON)


class Step(StepContent, table=True):
    __tablename__ = "steps"
    # Order is dense and unique among the steps still in the task; a removed step keeps its last position.
    __table_args__ = (
        Index(
            "uq_steps_task_position_live",
            "task_id",
            "position",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    task_id: uuid.UUID = Field(foreign_key="tasks.id", index=True, ondelete="CASCADE")
    position: int = Field(sa_column=Column(Integer, nullable=False))
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    removed_at: datetime | None = timestamp_field()


class StepRevision(StepContent, table=True):
    """The content a step had before an edit, so what a student saw can always be reconstructed."""

    __tablename__ = "step_revisions"

    id: uuid.UUID = id_field()
    step_id: uuid.UUID = Field(foreign_key="steps.id", index=True, ondelete="CASCADE")
    version: int
    edited_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()


class LiveSession(SQLModel, table=True):
    __tablename__ = "live_sessions"
    # A join code names at most one session that has not ended; ended sessions free their code.
    __table_args__ = (
        Index(
            "uq_live_sessions_code_open",
            "code",
            unique=True,
            postgresql_where=text("status <> 'ENDED'"),
        ),
    )

    id: uuid.UUID = id_field()
    lecture_id: uuid.UUID = Field(foreign_key="lectures.id", index=True, ondelete="CASCADE")
    task_id: uuid.UUID = Field(foreign_key="tasks.id", index=True, ondelete="CASCADE")
    instructor_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=200)
    code: str = Field(max_length=6)
    status: SessionStatus = Field(default=SessionStatus.WAITING, sa_type=enum_type(SessionStatus))
    current_step_id: uuid.UUID | None = Field(default=None, foreign_key="steps.id")
    created_at: datetime = created_at_field()
    started_at: datetime | None = timestamp_field()
    ended_at: datetime | None = timestamp_field()


class SessionControl(SQLModel, table=True):
    """The audit log: every control action on a session, by whom and when."""

    __tablename__ = "session_controls"

    id: uuid.UUID = id_field()
    session_id: uuid.UUID = Field(foreign_key="live_sessions.id", index=True, ondelete="CASCADE")
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    action: str = Field(max_length=32)
    from_status: SessionStatus = Field(sa_type=enum_type(SessionStatus))
    to_status: SessionStatus = Field(sa_type=enum_type(SessionStatus))
    from_step_id: uuid.UUID | None = Field(default=None, foreign_key="steps.id")
    to_step_id: uuid.UUID | None = Field(default=None, foreign_key="steps.id")
    message: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()


class Participant(SQLModel, table=True):
    __tablename__ = "participants"
    # Re-joining finds the same participant: by account when signed in, else by device.
    __table_args__ = (
        Index(
            "uq_participants_session_user",
            "session_id",
            "user_id",
            unique=True,
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        Index(
            "uq_participants_session_device",
            "session_id",
            "device_hash",
            unique=True,
            postgresql_where=text("device_hash IS NOT NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    session_id: uuid.UUID = Field(foreign_key="live_sessions.id", index=True, ondelete="CASCADE")
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # Only a hash is kept, so no query can hand a device id to someone who would impersonate it.
    device_hash: str | None = Field(default=None, max_length=64)
    display_name: str = Field(max_length=40)
    status: ParticipantStatus = Field(default=ParticipantStatus.WAITING, sa_type=enum_type(ParticipantStatus))
    current_step_id: uuid.UUID | None = Field(default=None, foreign_key="steps.id")
    completed_steps: int = 0
    joined_at: datetime = created_at_field()
    last_seen_at: datetime | None = timestamp_field()
    left_at: datetime | None = timestamp_field()


class StepProgress(SQLModel, table=True):
    __tablename__ = "step_progress"
    __table_args__ = (Index("uq_step_progress_participant_step", "participant_id", "step_id", unique=True),)

    id: uuid.UUID = id_field()
    session_id: uuid.UUID = Field(foreign_key="live_sessions.id", index=True, ondelete="CASCADE")
    participant_id: uuid.UUID = Field(foreign_key="participants.id", ondelete="CASCADE")
    step_id: uuid.UUID = Field(foreign_key="steps.id")
    status: ProgressStatus = Field(default=ProgressStatus.NOT_STARTED, sa_type=enum_type(ProgressStatus))
    attempts: int = 0
    started_at: datetime | None = timestamp_field()
    completed_at: datetime | None = timestamp_field()
    updated_at: datetime = created_at_field()


MIN_HELP_RATING = 1
MAX_HELP_RATING = 5


class HelpRequest(SQLModel, table=True):
    __tablename__ = "help_requests"
    __table_args__ = (
        CheckConstraint(f"rating BETWEEN {MIN_HELP_RATING} AND {MAX_HELP_RATING}", name="rating"),
    )

    id: uuid.UUID = id_field()
    session_id: uuid.UUID = Field(foreign_key="live_sessions.id", index=True, ondelete="CASCADE")
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True, ondelete="CASCADE")
    step_id: uuid.UUID | None = Field(default=None, foreign_key="steps.id")
    message: str | None = Field(default=None, max_length=500)
    status: HelpStatus = Field(default=HelpStatus.PENDING, sa_type=enum_type(HelpStatus))
    # What the server knew when help was asked for (attempts, time on the step, steps behind the class),
    # completed by the `help.diagnose` job with the probable problem and how to help
    # (broadcast.classroom.HelpDiagnosis).
    diagnosis: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    response: str | None = Field(default=None, max_length=1000)
    created_at: datetime = created_at_field()
    acknowledged_at: datetime | None = timestamp_field()
    resolved_at: datetime | None = timestamp_field()
    resolved_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # The participant's rating of the help they got, once the request is resolved; given at most once.
    rating: int | None = None
    rated_at: datetime | None = timestamp_field()


# What the response cache may serve (schema/response_cache.py) is read from these: writing one bumps the
# cache's content version.
feeds_cached_reads(Lecture.__table__, Task.__table__, Step.__table__)  # type: ignore[attr-defined]


# Read records: what the hot read paths (the DataLoaders behind lectures → tasks → steps) load with Core,
# one plain tuple per row, with none of the ORM's identity map and per-row instance state. The fields are
# the table's column names, so `core.reads.record_select` can select them by name, in order.


class LectureRecord(NamedTuple):
    id: uuid.UUID
    instructor_id: uuid.UUID
    title: str
    description: str | None
    is_active: bool
    created_at: datetime


class TaskRecord(NamedTuple):
    id: uuid.UUID
    lecture_id: uuid.UUID
    title: str
    description: str | None
    created_at: datetime


class StepRecord(NamedTuple):
    id: uuid.UUID
    task_id: uuid.UUID
    position: int
    version: int
    title: str
    description: str | None
    target_action: TargetAction | None
    guide_text: str
    voice_guide_text: str | None
    target_hint: dict[str, str] | None
    removed_at: datetime | None
