import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from models.base import created_at_field, enum_type, id_field, timestamp_field


class Channel(StrEnum):
    IN_APP = "IN_APP"
    EMAIL = "EMAIL"
    PUSH = "PUSH"


class NotificationStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    READ = "READ"


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=64)
    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    channel: Channel = Field(default=Channel.IN_APP, sa_type=enum_type(Channel))
    status: NotificationStatus = Field(
        default=NotificationStatus.PENDING, sa_type=enum_type(NotificationStatus)
    )
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # Idempotency: a retried job finds the notification it already created.
    dedupe_key: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = created_at_field()
    read_at: datetime | None = timestamp_field()
