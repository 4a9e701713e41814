"""Event payloads as they travel through Redis: plain JSON objects with a `type`.

Payloads carry what subscribers render, so a fan-out to many subscribers costs no database reads.
"""

from typing import Any

from models.notifications import Notification


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
