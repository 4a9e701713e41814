"""The in-app inbox: a user lists, counts and marks read their own in-app notifications, and hears of
new ones on the `notifications` subscription."""

import uuid
from collections.abc import AsyncIterator
from typing import TypeAlias

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.notifications import NotificationCreated, user_channel
from broadcast.streams import events_of
from core.auth import Actor, require_user
from core.errors import NotFound
from core.pagination import Page, paginate
from models.base import utcnow
from models.notifications import Channel, Notification, NotificationStatus


async def list_notifications(
    db: AsyncSession, actor: Actor, *, unread_only: bool, first: int | None, after: str | None
) -> Page[Notification]:
    user = require_user(actor)
    statement = select(Notification).where(
        col(Notification.user_id) == user.user_id, col(Notification.channel) == Channel.IN_APP.value
    )
    if unread_only:
        statement = statement.where(col(Notification.read_at).is_(None))
    keys = [col(Notification.created_at), col(Notification.id)]
    return await paginate(db, statement, keys, first=first, after=after)


async def get_own(db: AsyncSession, actor: Actor, notification_id: uuid.UUID) -> Notification:
    user = require_user(actor)
    notification = await db.get(Notification, notification_id)
    if (
        notification is None
        or notification.user_id != user.user_id
        or notification.channel is not Channel.IN_APP
    ):
        raise NotFound("Notification")
    return notification


async def mark_read(db: AsyncSession, actor: Actor, notification_id: uuid.UUID) -> Notification:
    notification = await get_own(db, actor, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        notification.status = NotificationStatus.READ
    return notification


async def unread_count(db: AsyncSession, actor: Actor) -> int:
    user = require_user(actor)
    statement = select(func.count()).where(*_unread(user.user_id))
    return int((await db.execute(statement)).scalar_one())


async def mark_all_read(db: AsyncSession, actor: Actor) -> int:
    """Marks every unread in-app notification of the user read; how many it marked."""
    user = require_user(actor)
    statement = (
        update(Notification)
        .where(*_unread(user.user_id))
        .values(read_at=utcnow(), status=NotificationStatus.READ.value)
    )
    result = await db.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


def _unread(user_id: uuid.UUID) -> list[ColumnElement[bool]]:
    return [
        col(Notification.user_id) == user_id,
        col(Notification.channel) == Channel.IN_APP.value,
        col(Notification.read_at).is_(None),
    ]


# What `notification_events` yields: the schema converts these, without importing broadcast/ itself.
NotificationEvent: TypeAlias = NotificationCreated


def notification_events(actor: Actor) -> AsyncIterator[NotificationEvent]:
    """The signed-in user's new notifications as they are published.

    The user is required here, before the stream subscribes to anything.
    """
    user = require_user(actor)
    return events_of(user_channel(user.user_id), NotificationCreated)
