"""In-app notifications: created by jobs, read and marked read by their owner."""

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast import notifications as notification_events
from broadcast.hub import publish
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
        .returning(Notification.id)
    )
    created_id = (await db.execute(statement)).scalar_one_or_none()
    if created_id is None:
        return None
    notification = await db.get(Notification, created_id)
    assert notification is not None
    channel = notification_events.user_channel(user_id)
    after_commit(db, lambda: publish(channel, notification_events.notification_created(notification)))
    return notification


async def list_notifications(
    db: AsyncSession, actor: Actor, *, unread_only: bool, first: int | None, after: str | None
) -> Page[Notification]:
    user = require_user(actor)
    statement = select(Notification).where(Notification.user_id == user.user_id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))  # type: ignore[union-attr]
    keys = [Notification.created_at, Notification.id]
    return await paginate(db, statement, keys, first=first, after=after)  # type: ignore[arg-type]


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
