"""In-app notifications: created by jobs, read and marked read by their owner."""

import uuid
from collections.abc import AsyncIterator
from typing import TypeAlias

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.events import UnknownEvent, decode
from broadcast.hub import Resubscribe, hub, publish
from broadcast.notifications import NotificationCreated, user_channel
from core.auth import Actor, require_user
from core.db import after_commit
from core.errors import NotFound
from core.pagination import Page, paginate
from models.base import utcnow
from models.notifications import Channel, Notification, NotificationStatus


async def create_in_app(
    db: AsyncSession, user_id: uuid.UUID, *, kind: str, title: str, body: str, dedupe_key: str
) -> Notification | None:
    """Creates the notification once per `dedupe_key`; None when it already exists (a retried job)."""
    statement = (
        insert(Notification)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            kind=kind,
            title=title,
            body=body,
            channel=Channel.IN_APP.value,
            status=NotificationStatus.SENT.value,
            data={},
            dedupe_key=dedupe_key,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(col(Notification.id))
    )
    created_id = (await db.execute(statement)).scalar_one_or_none()
    if created_id is None:
        return None
    notification = await db.get(Notification, created_id)
    assert notification is not None
    event = NotificationCreated.of(notification)
    after_commit(db, lambda: publish(user_channel(user_id), event.payload()))
    return notification


async def list_notifications(
    db: AsyncSession, actor: Actor, *, unread_only: bool, first: int | None, after: str | None
) -> Page[Notification]:
    user = require_user(actor)
    statement = select(Notification).where(col(Notification.user_id) == user.user_id)
    if unread_only:
        statement = statement.where(col(Notification.read_at).is_(None))
    keys = [col(Notification.created_at), col(Notification.id)]
    return await paginate(db, statement, keys, first=first, after=after)


async def get_own(db: AsyncSession, actor: Actor, notification_id: uuid.UUID) -> Notification:
    user = require_user(actor)
    notification = await db.get(Notification, notification_id)
    if notification is None or notification.user_id != user.user_id:
        raise NotFound("Notification")
    return notification


async def mark_read(db: AsyncSession, actor: Actor, notification_id: uuid.UUID) -> Notification:
    notification = await get_own(db, actor, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        notification.status = NotificationStatus.READ
    return notification


# What `notification_events` yields: the schema converts these, without importing broadcast/ itself.
NotificationEvent: TypeAlias = NotificationCreated


def notification_events(actor: Actor) -> AsyncIterator[NotificationEvent]:
    """The signed-in user's new notifications as they are published.

    The user is required here, before the stream subscribes to anything.
    """
    user = require_user(actor)
    return _notification_stream(user_channel(user.user_id))


async def _notification_stream(channel: str) -> AsyncIterator[NotificationEvent]:
    while True:
        try:
            async with hub().subscribe(channel) as messages:
                async for message in messages:
                    event = decode(message)
                    if not isinstance(event, NotificationCreated):
                        raise UnknownEvent(f"{event.type_name} on a notifications channel")
                    yield event
            return
        except Resubscribe:
            # Notifications have no snapshot: the stream goes on, and any it missed are in the list query.
            continue
