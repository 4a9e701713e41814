"""Tables of the recordings domain: demonstrations recorded on a phone, and students' activity logs.

Event rows are keyed by the client-made `event_id`, so a resent batch or a redelivered Kafka message
inserts nothing twice. `occurred_at` is the phone's clock, kept as sent; `received_at` is the api's.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from core.text import TEXT, TITLE
from models.base import created_at_field, enum_type, id_field, timestamp_field
from models.classroom import TargetAction, UiTarget


class RecordingStatus(StrEnum):
    RECORDING = "RECORDING"
    COMPLETED = "COMPLETED"
    PROCESSING = "PROCESSING"
    ANALYZED = "ANALYZED"
    FAILED = "FAILED"


class AnalyzedStep(BaseModel):
    """One step of a recording's analysis, stored in `Recording.analysis` as snake_case JSON; its order
    is its position in the list. The AI's answer is validated by this same model."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str = PydanticField(min_length=1, max_length=TITLE)
    description: str | None = PydanticField(default=None, max_length=TEXT)
    target_action: TargetAction
    target: UiTarget = UiTarget()
    source_event_ids: list[str] = PydanticField(min_length=1)
    guide_text: str = PydanticField(min_length=1, max_length=TEXT)
    voice_guide_text: str | None = PydanticField(default=None, max_length=TEXT)

    @field_validator("target", mode="before")
    @classmethod
    def _no_target(cls, value: object) -> object:
        return {} if value is None else value

    @field_serializer("target")
    def _stored_target(self, target: UiTarget) -> dict[str, str] | None:
        return target.stored()


class Recording(SQLModel, table=True):
    __tablename__ = "recordings"

    id: uuid.UUID = id_field()
    owner_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    lecture_id: uuid.UUID | None = Field(
        default=None, foreign_key="lectures.id", index=True, ondelete="SET NULL"
    )
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: RecordingStatus = Field(default=RecordingStatus.RECORDING, sa_type=enum_type(RecordingStatus))
    # Maintained by the statement that inserts events, counting only rows it really inserted.
    event_count: int = 0
    started_at: datetime = created_at_field()
    ended_at: datetime | None = timestamp_field()
    # Bumped whenever an analysis is queued; a job writes its result only while its version is current.
    analysis_version: int = 0
    analysis: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONB)
    analysis_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    analysis_model: str | None = Field(default=None, max_length=120)
    analyzed_at: datetime | None = timestamp_field()
    # The task this recording was converted into; unique, so converting twice cannot create two.
    task_id: uuid.UUID | None = Field(default=None, foreign_key="tasks.id", unique=True, ondelete="SET NULL")
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()

    def analyzed_steps(self) -> list[AnalyzedStep] | None:
        if self.analysis is None:
            return None
        return [AnalyzedStep.model_validate(step) for step in self.analysis]


class RecordingEvent(SQLModel, table=True):
    __tablename__ = "recording_events"
    __table_args__ = (Index("ix_recording_events_timeline", "recording_id", "occurred_at", "event_id"),)

    event_id: uuid.UUID = Field(primary_key=True)
    recording_id: uuid.UUID = Field(foreign_key="recordings.id", ondelete="CASCADE")
    event_type: str = Field(max_length=64)
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))
    received_at: datetime = Field(sa_type=DateTime(timezone=True))
    package_name: str | None = Field(default=None, max_length=255)
    class_name: str | None = Field(default=None, max_length=255)
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    content_description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    view_id: str | None = Field(default=None, max_length=255)
    bounds: str | None = Field(default=None, max_length=64)
    is_sensitive: bool = False
    data: dict[str, Any] | None = Field(default=None, sa_type=JSONB)


class ActivityEvent(SQLModel, table=True):
    """A student's behaviour log; the session, step and recording ids are references, not foreign keys,
    so logs outlive what they describe."""

    __tablename__ = "activity_events"
    __table_args__ = (Index("ix_activity_events_session", "session_id", "occurred_at"),)

    event_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID | None = Field(default=None, index=True)
    participant_id: uuid.UUID | None = Field(default=None, index=True)
    session_id: uuid.UUID | None = None
    step_id: uuid.UUID | None = None
    recording_id: uuid.UUID | None = None
    event_type: str = Field(max_length=64)
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))
    received_at: datetime = Field(sa_type=DateTime(timezone=True))
    data: dict[str, Any] | None = Field(default=None, sa_type=JSONB)


class DeadLetter(SQLModel, table=True):
    """An activity-topic message (or one row of it) that Postgres refused, kept with the reason so the
    drain can move on. `position` is the row's index in the message, -1 for a message nobody can read;
    with the message's coordinates it makes a redelivered batch add no second copy."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("topic", "partition", "offset", "position"),)

    id: uuid.UUID = id_field()
    topic: str = Field(max_length=255)
    partition: int
    offset: int = Field(sa_type=BigInteger)
    position: int
    key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # ASCII-escaped JSON of the row (or the escaped raw message), so even a NUL byte is storable.
    payload: str = Field(sa_column=Column(Text, nullable=False))
    error: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()
