"""Every pub/sub channel name, in one place."""

import uuid


def user_notifications(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:notifications"
