"""The channel and payloads of a user's in-app notifications.

Payloads carry what subscribers render, so a fan-out to many subscribers costs no database reads.
"""

import uuid
from typing import Any

from models.notifications import Notification


def user_channel(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:notifications"


def notification_created(notification: Notification) -> dict[str, Any]:
    return {
        "type": "NotificationCreated",
        "notification": {
            "id": str(notification.id),
            "kind": notification.kind,
            "title": notification.title,
            "body": notification.body,
            "channel": notification.channel.value,
            "status": notification.status.value,
            "createdAt": notification.created_at.isoformat(),
            "readAt": notification.read_at.isoformat() if notification.read_at else None,
        },
    }
