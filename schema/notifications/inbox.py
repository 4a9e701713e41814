"""The signed-in user's in-app notifications: list, count, mark read, and the subscription."""

from collections.abc import AsyncGenerator

import strawberry

from core.db import read_session, transaction
from resolvers import notifications
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.notifications.types import Notification
from schema.relay import Connection


@strawberry.type
class InboxQuery:
    @fields.field("The signed-in user's in-app notifications, newest first.")
    async def notifications(
        self, info: Info, unread_only: bool | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Notification]:
        async with read_session() as db:
            page = await notifications.list_notifications(
                db, info.context.actor, unread_only=bool(unread_only), first=first, after=after
            )
        return Connection.from_page(page, Notification.from_row)

    @fields.field("How many of the signed-in user's in-app notifications are unread.")
    async def unread_notification_count(self, info: Info) -> int:
        async with read_session() as db:
            return await notifications.unread_count(db, info.context.actor)


@strawberry.type
class InboxMutation:
    @strawberry.mutation
    async def mark_notification_read(self, info: Info, id: strawberry.ID) -> Notification:
        async with transaction() as db:
            row = await notifications.mark_read(db, info.context.actor, parse_id(id, "Notification"))
        return Notification.from_row(row)

    @fields.mutation("Marks every unread in-app notification read; how many it marked.")
    async def mark_all_notifications_read(self, info: Info) -> int:
        async with transaction() as db:
            return await notifications.mark_all_read(db, info.context.actor)


async def _notifications(info: Info) -> AsyncGenerator[Notification, None]:
    async for event in notifications.notification_events(info.context.actor):
        yield Notification.from_event(event)


@strawberry.type
class InboxSubscription:
    notifications: AsyncGenerator[Notification, None] = strawberry.subscription(
        resolver=_notifications, description="The signed-in user's in-app notifications as they arrive."
    )
