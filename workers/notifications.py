"""Notification jobs. Each takes ids only and is idempotent, so arq may retry it safely."""

import uuid
from typing import Any

from core.db import transaction
from models.accounts import User
from resolvers import notifications


async def send_welcome(ctx: dict[str, Any], user_id: str) -> bool:
    async with transaction() as db:
        user = await db.get(User, uuid.UUID(user_id))
        if user is None:
            return False
        created = await notifications.create_in_app(
            db,
            user.id,
            kind="welcome",
            title="Welcome to StudyMate",
            body=f"Hello {user.name}! Join a live class with its code, or start studying a subject.",
            dedupe_key=f"welcome:{user.id}",
        )
    return created is not None
