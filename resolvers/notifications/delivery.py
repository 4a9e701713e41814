"""The state machine of one email, push or SMS delivery, for the worker: claim, then sent, retry or failed.

Each step is one short transaction on the notification's row, locked. A claim moves PENDING to SENDING
(attempts + 1), so of two workers (or a job and its retry) only one sends; the other finds SENDING or a
final state and does nothing. The claim also serialises per user (an advisory lock), so the daily cap
holds when several of a user's deliveries are claimed at once. A worker that died while SENDING leaves
the row to be claimed again after CLAIM_LEASE: at most once, unless a worker dies mid-send.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import after_commit
from models.accounts import User
from models.notifications import Channel, DeviceToken, Notification, NotificationStatus
from resolvers.notifications.kinds import KINDS
from resolvers.notifications.pipeline import enqueue_delivery
from resolvers.notifications.preferences import preferences_of
from resolvers.notifications.rules import local_day_start, quiet_hours_end

CLAIM_LEASE = timedelta(minutes=10)
# The first send and three retries.
MAX_ATTEMPTS = 4
RETRY_BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=8))
_FINAL = {
    NotificationStatus.SENT,
    NotificationStatus.FAILED,
    NotificationStatus.SKIPPED,
    NotificationStatus.READ,
}


@dataclass(frozen=True)
class Claim:
    """A delivery this worker now owns, with what the sender needs."""

    notification: Notification
    email: str
    device_tokens: list[str]
    # SMS: the user's verified phone.
    phone: str | None = None


async def claim(
    db: AsyncSession, notification_id: uuid.UUID, now: datetime, configured: frozenset[Channel]
) -> Claim | str:
    """The claim, or why there is nothing to send now (the outcome the job reports)."""
    row = await db.get(Notification, notification_id, with_for_update=True, populate_existing=True)
    if row is None or row.channel is Channel.IN_APP:
        return "gone"
    if row.status in _FINAL:
        return f"already {row.status.value}"
    if row.status is NotificationStatus.SENDING and row.claimed_at and row.claimed_at > now - CLAIM_LEASE:
        return "being sent by another worker"
    if row.deliver_after is not None and row.deliver_after > now:
        # An early copy of the job; the one due at deliver_after is queued.
        return "not due yet"
    if row.channel not in configured:
        return _skip(row, f"{row.channel.value} is not configured")
    await db.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": str(row.user_id)}
    )
    user = await db.get(User, row.user_id)
    if user is None:
        return _skip(row, "user gone")
    preferences = await preferences_of(db, row.user_id)
    kind = KINDS.get(row.kind)
    essential = kind is not None and kind.essential
    wanted = {Channel.EMAIL: preferences.email, Channel.PUSH: preferences.push, Channel.SMS: preferences.sms}[
        row.channel
    ]
    if not wanted or (row.kind in preferences.muted_kinds and not essential):
        return _skip(row, "turned off by the user")
    if row.channel is Channel.SMS and not (user.phone and user.phone_verified):
        # Only a verified phone gets anything but its code.
        return _skip(row, "no verified phone")
    until = quiet_hours_end(now, user.timezone, preferences.quiet_hours_start, preferences.quiet_hours_end)
    if until is not None:
        row.deliver_after = until
        after_commit(db, lambda: enqueue_delivery(row.id, row.attempts, until))
        return "deferred to the end of quiet hours"
    if not essential and await _sent_today(db, row.user_id, now, user.timezone) >= preferences.daily_cap:
        # Dropped, not postponed: the in-app copy holds it, and tomorrow's cap stays tomorrow's.
        return _skip(row, "daily cap reached")
    tokens: list[str] = []
    if row.channel is Channel.PUSH:
        tokens = list(
            (
                await db.execute(
                    select(col(DeviceToken.token)).where(
                        col(DeviceToken.user_id) == row.user_id, col(DeviceToken.active)
                    )
                )
            ).scalars()
        )
        if not tokens:
            return _skip(row, "no active device")
    row.status = NotificationStatus.SENDING
    row.claimed_at = now
    row.attempts += 1
    return Claim(notification=row, email=user.email, device_tokens=tokens, phone=user.phone)


def _skip(row: Notification, reason: str) -> str:
    row.status = NotificationStatus.SKIPPED
    row.error = reason
    return f"skipped: {reason}"


async def _sent_today(db: AsyncSession, user_id: uuid.UUID, now: datetime, timezone: str) -> int:
    statement = select(func.count()).where(
        col(Notification.user_id) == user_id,
        col(Notification.channel).in_([Channel.EMAIL.value, Channel.PUSH.value, Channel.SMS.value]),
        col(Notification.status).in_([NotificationStatus.SENDING.value, NotificationStatus.SENT.value]),
        col(Notification.claimed_at) >= local_day_start(now, timezone),
    )
    return int((await db.execute(statement)).scalar_one())


def _owned(claimed: Claim) -> list[object]:
    row = claimed.notification
    return [
        col(Notification.id) == row.id,
        col(Notification.status) == NotificationStatus.SENDING.value,
        col(Notification.claimed_at) == row.claimed_at,
    ]


async def mark_sent(db: AsyncSession, claimed: Claim, now: datetime, note: str | None = None) -> None:
    await db.execute(
        update(Notification)
        .where(*_owned(claimed))  # type: ignore[arg-type]
        .values(status=NotificationStatus.SENT.value, sent_at=now, error=note)
    )


async def mark_skipped(db: AsyncSession, claimed: Claim, reason: str) -> None:
    await db.execute(
        update(Notification)
        .where(*_owned(claimed))  # type: ignore[arg-type]
        .values(status=NotificationStatus.SKIPPED.value, error=reason)
    )


async def mark_failed_attempt(db: AsyncSession, claimed: Claim, now: datetime, error: str) -> str:
    """After a failed send: PENDING again with a backoff (and a job for then), or FAILED after the last."""
    attempts = claimed.notification.attempts
    values: dict[str, object]
    if attempts >= MAX_ATTEMPTS:
        values = {"status": NotificationStatus.FAILED.value, "error": error[:500]}
        outcome = f"failed after {attempts} attempts: {error}"
    else:
        retry_at = now + RETRY_BACKOFF[attempts - 1]
        values = {"status": NotificationStatus.PENDING.value, "error": error[:500], "deliver_after": retry_at}
        notification_id = claimed.notification.id
        after_commit(db, lambda: enqueue_delivery(notification_id, attempts, retry_at))
        outcome = f"attempt {attempts} failed, retrying at {retry_at.isoformat()}: {error}"
    await db.execute(update(Notification).where(*_owned(claimed)).values(**values))  # type: ignore[arg-type]
    return outcome


async def deactivate_tokens(
    db: AsyncSession, user_id: uuid.UUID, tokens: dict[str, str], now: datetime
) -> None:
    """Turns off the tokens FCM refused for good, each with its reason, while they are still this user's."""
    for token, reason in tokens.items():
        await db.execute(
            update(DeviceToken)
            .where(col(DeviceToken.token) == token, col(DeviceToken.user_id) == user_id)
            .values(active=False, deactivated_reason=reason, updated_at=now)
        )


async def undelivered(
    db: AsyncSession, now: datetime, limit: int
) -> list[tuple[uuid.UUID, int, datetime | None]]:
    """Deliveries that should have run by now (a lost enqueue, a worker that died while sending)."""
    overdue = now - timedelta(minutes=2)
    statement = (
        select(col(Notification.id), col(Notification.attempts), col(Notification.deliver_after))
        .where(
            col(Notification.status).in_(
                [NotificationStatus.PENDING.value, NotificationStatus.SENDING.value]
            ),
            func.coalesce(col(Notification.deliver_after), col(Notification.created_at)) < overdue,
            (col(Notification.status) == NotificationStatus.PENDING.value)
            | (col(Notification.claimed_at) < now - CLAIM_LEASE),
        )
        .order_by(func.coalesce(col(Notification.deliver_after), col(Notification.created_at)))
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in await db.execute(statement)]
