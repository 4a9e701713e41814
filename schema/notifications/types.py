"""The notification types, shared by the inbox and the preferences."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

import models.notifications as rows
from resolvers import notifications

Channel = strawberry.enum(rows.Channel, name="Channel")
NotificationStatus = strawberry.enum(rows.NotificationStatus, name="NotificationStatus")
Platform = strawberry.enum(rows.Platform, name="Platform")


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
    data: JSON | None

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
            data=JSON(row.data) if row.data else None,
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
            data=JSON(event.data) if event.data else None,
        )


@strawberry.type
class NotificationPreferences:
    in_app: bool = strawberry.field(description="Always on: the inbox keeps every notification.")
    email: bool
    push: bool
    sms: bool = strawberry.field(
        description="Texts to the verified Profile.phone; false until a phone is verified, and false again "
        "when the carrier reports the number invalid or unsubscribed."
    )
    quiet_hours_start: str | None = strawberry.field(description='"HH:MM", local to Profile.timezone.')
    quiet_hours_end: str | None
    daily_cap: int = strawberry.field(
        description="Email, push and SMS per local day; past it they are dropped (the in-app copy stays). "
        "Billing and security notifications are never capped."
    )
    muted_kinds: list[str] = strawberry.field(
        description="Kinds sent in-app only; billing and security kinds cannot be muted."
    )

    @classmethod
    def from_row(cls, row: rows.NotificationPreference) -> "NotificationPreferences":
        return cls(
            in_app=True,
            email=row.email,
            push=row.push,
            sms=row.sms,
            quiet_hours_start=row.quiet_hours_start,
            quiet_hours_end=row.quiet_hours_end,
            daily_cap=row.daily_cap,
            muted_kinds=list(row.muted_kinds),
        )
