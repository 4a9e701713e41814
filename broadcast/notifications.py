"""The channel and the event of a user's in-app notifications.

The event carries what subscribers render, so a fan-out to many subscribers costs no database reads.
"""

import uuid
from datetime import datetime
from typing import Any

from broadcast.events import BroadcastEvent
from models.notifications import Channel, Notification, NotificationStatus


def user_channel(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:notifications"


class NotificationCreated(BroadcastEvent):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    channel: Channel
    status: NotificationStatus
    created_at: datetime
    read_at: datetime | None
    data: dict[str, Any] = {}

    @classmethod
    def of(cls, notification: Notification) -> "NotificationCreated":
        return cls(
            id=notification.id,
            kind=notification.kind,
            title=notification.title,
            body=notification.body,
            channel=notification.channel,
            status=notification.status,
            created_at=notification.created_at,
            read_at=notification.read_at,
            data=notification.data,
        )
