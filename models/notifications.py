"""Notifications: one row per (notification, channel), the user's preferences and their push devices.

A notification is the logical event (`dedupe_key`); it is stored once per channel it goes out on, so each
channel's delivery is claimed, retried and finished on its own row.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.base import created_at_field, enum_type, id_field, timestamp_field


class Channel(StrEnum):
    IN_APP = "IN_APP"
    EMAIL = "EMAIL"
    PUSH = "PUSH"
    SMS = "SMS"


class NotificationStatus(StrEnum):
    PENDING = "PENDING"
    # Claimed by a worker that is sending it now.
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    READ = "READ"
    # Not sent on purpose: a muted kind, the daily cap, no device, or a channel without settings.
    SKIPPED = "SKIPPED"


class Platform(StrEnum):
    ANDROID = "ANDROID"
    IOS = "IOS"
    WEB = "WEB"


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        # At most one row, hence one delivery, per notification and channel.
        UniqueConstraint("dedupe_key", "channel", name="uq_notifications_dedupe_key_channel"),
        # The daily cap counts the email and push a user was sent (claimed for sending) since local midnight.
        Index("ix_notifications_user_id_channel_claimed_at", "user_id", "channel", "claimed_at"),
        # The sweeper looks for deliveries whose job may have been lost.
        Index(
            "ix_notifications_undelivered",
            "deliver_after",
            postgresql_where=text("status IN ('PENDING', 'SENDING')"),
        ),
    )

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
    dedupe_key: str | None = Field(default=None, max_length=128)
    # Email only: the HTML part, rendered with the text so the worker needs no template.
    html: str | None = Field(default=None)
    # Not before this time (quiet hours, retry backoff); None means at once.
    deliver_after: datetime | None = timestamp_field()
    attempts: int = 0
    claimed_at: datetime | None = timestamp_field()
    sent_at: datetime | None = timestamp_field()
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
    read_at: datetime | None = timestamp_field()


class NotificationPreference(SQLModel, table=True):
    """A user's choices; a user without a row has the defaults below."""

    __tablename__ = "notification_preferences"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    email: bool = True
    push: bool = True
    # Off until the user verifies a phone (verifying turns it on); off again when Twilio refuses the number.
    sms: bool = False
    # "HH:MM" local to the user's timezone; both or neither.
    quiet_hours_start: str | None = Field(default=None, max_length=5)
    quiet_hours_end: str | None = Field(default=None, max_length=5)
    daily_cap: int = 10
    muted_kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_at: datetime = created_at_field()


class DeviceToken(SQLModel, table=True):
    """A push token; it belongs to one user at a time (registering it again moves it)."""

    __tablename__ = "device_tokens"

    id: uuid.UUID = id_field()
    token: str = Field(max_length=4096, unique=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    platform: Platform = Field(sa_type=enum_type(Platform))
    active: bool = True
    # Why FCM refused it, when it did.
    deactivated_reason: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
