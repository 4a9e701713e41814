"""One pipeline from a domain event to notifications: `notify`, called inside the producer's transaction.

It picks the channels (the kind's, minus what the recipient turned off or muted), renders the templates
in the recipient's language, stores one row per channel (once per `dedupe_key`, so a retried producer
adds nothing), and after the commit publishes the in-app copy and queues one delivery job per other
channel. Nothing is sent inside the producer's transaction or request.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.hub import publish
from broadcast.notifications import NotificationCreated, user_channel
from core.db import after_commit
from core.jobs import job_queue
from models.accounts import User
from models.base import utcnow
from models.notifications import Channel, Notification, NotificationPreference, NotificationStatus
from resolvers.notifications.kinds import KINDS, Kind, render
from resolvers.notifications.preferences import preferences_of
from resolvers.notifications.rules import quiet_hours_end

DELIVER_JOB = "notification.deliver"


def delivery_job_id(notification_id: uuid.UUID, attempts: int, deliver_after: datetime | None) -> str:
    """One job per delivery attempt and due time: a repeated enqueue of the same one is a no-op."""
    due = int(deliver_after.timestamp()) if deliver_after else 0
    return f"notification:{notification_id}:{attempts}:{due}"


async def enqueue_delivery(notification_id: uuid.UUID, attempts: int, deliver_after: datetime | None) -> None:
    await (await job_queue()).enqueue_job(
        DELIVER_JOB,
        str(notification_id),
        _job_id=delivery_job_id(notification_id, attempts, deliver_after),
        _defer_until=deliver_after,
    )


def channels_for(
    kind: str, policy: Kind, preferences: NotificationPreference, *, phone_verified: bool
) -> list[Channel]:
    """In-app always; email, push and SMS unless turned off, or the kind is muted and may be; SMS only to
    a verified phone."""
    muted = kind in preferences.muted_kinds and not policy.essential
    wanted = {
        Channel.IN_APP: True,
        Channel.EMAIL: preferences.email,
        Channel.PUSH: preferences.push,
        Channel.SMS: preferences.sms and phone_verified,
    }
    return [
        channel for channel in policy.channels if channel is Channel.IN_APP or (wanted[channel] and not muted)
    ]


async def notify(
    db: AsyncSession,
    user_id: uuid.UUID,
    kind: str,
    *,
    variables: dict[str, object],
    dedupe_key: str,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Stores the notification of `kind` for the user on its channels; returns the rows created now
    (none when `dedupe_key` was notified before or the user is gone)."""
    policy = KINDS[kind]
    user = await db.get(User, user_id)
    if user is None:
        return []
    preferences = await preferences_of(db, user_id)
    rendered = render(policy, user.language, variables)
    now = now or utcnow()
    # Email, push and SMS wait for the end of quiet hours; the worker checks again when it runs.
    deferred_to = quiet_hours_end(
        now, user.timezone, preferences.quiet_hours_start, preferences.quiet_hours_end
    )
    created: list[Notification] = []
    for channel in channels_for(kind, policy, preferences, phone_verified=user.phone_verified):
        row = Notification(
            id=uuid.uuid4(),
            user_id=user_id,
            kind=kind,
            title=rendered.title,
            body=rendered.email_text if channel is Channel.EMAIL else rendered.body,
            html=rendered.html if channel is Channel.EMAIL else None,
            channel=channel,
            status=NotificationStatus.SENT if channel is Channel.IN_APP else NotificationStatus.PENDING,
            data=data or {},
            dedupe_key=dedupe_key,
            deliver_after=None if channel is Channel.IN_APP else deferred_to,
            attempts=0,
            created_at=now,
            sent_at=now if channel is Channel.IN_APP else None,
        )
        if await _insert_once(db, row):
            created.append(row)
    for row in created:
        _after_commit_delivery(db, row)
    return created


async def create_in_app(
    db: AsyncSession, user_id: uuid.UUID, *, kind: str, title: str, body: str, dedupe_key: str
) -> Notification | None:
    """An in-app notification with text the caller wrote (no template, no other channel); None when
    `dedupe_key` exists already. Kept for callers that predate `notify`; new code calls `notify`."""
    now = utcnow()
    row = Notification(
        id=uuid.uuid4(),
        user_id=user_id,
        kind=kind[:64],
        title=title[:200],
        body=body[:2000],
        channel=Channel.IN_APP,
        status=NotificationStatus.SENT,
        data={},
        dedupe_key=dedupe_key,
        attempts=0,
        created_at=now,
        sent_at=now,
    )
    if not await _insert_once(db, row):
        return None
    _after_commit_delivery(db, row)
    return row


async def _insert_once(db: AsyncSession, row: Notification) -> bool:
    values = {column.name: getattr(row, column.name) for column in Notification.__table__.columns}  # type: ignore[attr-defined]
    statement = (
        insert(Notification)
        .values(values)
        .on_conflict_do_nothing(index_elements=["dedupe_key", "channel"])
        .returning(col(Notification.id))
    )
    return (await db.execute(statement)).scalar_one_or_none() is not None


def _after_commit_delivery(db: AsyncSession, row: Notification) -> None:
    if row.channel is Channel.IN_APP:
        event = NotificationCreated.of(row)
        after_commit(db, lambda: publish(user_channel(row.user_id), event.payload()))
    else:
        after_commit(db, lambda: enqueue_delivery(row.id, row.attempts, row.deliver_after))
