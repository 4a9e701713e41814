from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

import models.notifications as rows
from core.db import read_session, transaction
from resolvers import notifications
from schema.context import Info
from schema.ids import parse_id
from schema.relay import Connection

Channel = strawberry.enum(rows.Channel, name="Channel")
NotificationStatus = strawberry.enum(rows.NotificationStatus, name="NotificationStatus")


@strawberry.type
class Notification:
    id: strawberry.ID
    kind: str
    title: str
    body: str
    channel: Channel
    status: NotificationStatus
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def from_row(cls, row: rows.Notification) -> "Notification":
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            title=row.title,
            body=row.body,
            channel=row.channel,
            status=row.status,
            created_at=row.created_at,
            read_at=row.read_at,
        )

    @classmethod
    def from_event(cls, event: notifications.NotificationEvent) -> "Notification":
        return cls(
            id=strawberry.ID(str(event.id)),
            kind=event.kind,
            title=event.title,
            body=event.body,
            channel=event.channel,
            status=event.status,
            created_at=event.created_at,
            read_at=event.read_at,
        )


@strawberry.type
class NotificationsQuery:
    @strawberry.field
    async def notifications(
        self, info: Info, unread_only: bool | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Notification]:
        async with read_session() as db:
            page = await notifications.list_notifications(
                db, info.context.actor, unread_only=bool(unread_only), first=first, after=after
            )
        return Connection.from_page(page, Notification.from_row)


@strawberry.type
class NotificationsMutation:
    @strawberry.mutation
    async def mark_notification_read(self, info: Info, id: strawberry.ID) -> Notification:
        async with transaction() as db:
            row = await notifications.mark_read(db, info.context.actor, parse_id(id, "Notification"))
        return Notification.from_row(row)


async def _notifications(info: Info) -> AsyncGenerator[Notification, None]:
    async for event in notifications.notification_events(info.context.actor):
        yield Notification.from_event(event)


@strawberry.type
class NotificationsSubscription:
    notifications: AsyncGenerator[Notification, None] = strawberry.subscription(
        resolver=_notifications, description="The signed-in user's in-app notifications as they arrive."
    )
