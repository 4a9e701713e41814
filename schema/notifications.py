from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry

import models.notifications as rows
from broadcast import notifications as notification_events
from broadcast.hub import hub
from core.auth import require_user
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
    def from_event(cls, payload: dict[str, Any]) -> "Notification":
        return cls(
            id=strawberry.ID(payload["id"]),
            kind=payload["kind"],
            title=payload["title"],
            body=payload["body"],
            channel=rows.Channel(payload["channel"]),
            status=rows.NotificationStatus(payload["status"]),
            created_at=datetime.fromisoformat(payload["createdAt"]),
            read_at=datetime.fromisoformat(payload["readAt"]) if payload["readAt"] else None,
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


@strawberry.type
class NotificationsSubscription:
    @strawberry.subscription(description="The signed-in user's in-app notifications as they arrive.")
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        user = require_user(info.context.actor)
        async with hub().subscribe(notification_events.user_channel(user.user_id)) as events:
            async for event in events:
                yield Notification.from_event(event["notification"])
