"""Notification jobs: the welcome, one delivery per (notification, channel), and the sweeper.

Each job takes ids only and is idempotent (`resolvers.notifications.delivery` claims before sending), so
arq may run it twice, or two workers may run copies of it, and the email or push still goes out once.
The clock and the senders come from the worker's context (`ctx["clock"]`, `ctx["email_sender"]`,
`ctx["push_sender"]`, `ctx["sms_sender"]`) so tests run the real jobs at any instant and against local
servers.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.db import read_session, transaction
from core.email import Email, EmailSender, SendFailed, email_sender
from core.push import Push, PushOutcome, PushSender, push_sender
from core.sms import Sms, SmsOutcome, SmsSender, sms_sender, text_of
from models.accounts import User
from models.base import utcnow
from models.notifications import Channel
from resolvers import notifications, phone
from resolvers.classroom import starting
from resolvers.notifications import delivery
from resolvers.notifications.kinds import language_of
from resolvers.notifications.pipeline import enqueue_delivery
from resolvers.notifications.preferences import set_sms

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500

Clock = Callable[[], datetime]


async def send_welcome(ctx: dict[str, Any], user_id: str) -> bool:
    async with transaction() as db:
        user = await db.get(User, uuid.UUID(user_id))
        if user is None:
            return False
        created = await notifications.notify(
            db,
            user.id,
            "welcome",
            variables={"name": user.name},
            dedupe_key=f"welcome:{user.id}",
            now=_now(ctx),
        )
    return bool(created)


def _now(ctx: dict[str, Any]) -> datetime:
    clock: Clock = ctx.get("clock", utcnow)
    return clock()


def _email_sender(ctx: dict[str, Any]) -> EmailSender | None:
    if "email_sender" not in ctx:
        ctx["email_sender"] = email_sender()
    sender: EmailSender | None = ctx["email_sender"]
    return sender


def _push_sender(ctx: dict[str, Any]) -> PushSender | None:
    if "push_sender" not in ctx:
        ctx["push_sender"] = push_sender()
    sender: PushSender | None = ctx["push_sender"]
    return sender


def _sms_sender(ctx: dict[str, Any]) -> SmsSender | None:
    if "sms_sender" not in ctx:
        ctx["sms_sender"] = sms_sender()
    sender: SmsSender | None = ctx["sms_sender"]
    return sender


async def close_senders(ctx: dict[str, Any]) -> None:
    sender = ctx.pop("push_sender", None)
    if sender is not None and hasattr(sender, "aclose"):
        await sender.aclose()


async def deliver(ctx: dict[str, Any], notification_id: str) -> str:
    """Sends one email, push or SMS notification, at most once, or says why it did not."""
    email, push, sms = _email_sender(ctx), _push_sender(ctx), _sms_sender(ctx)
    senders = ((Channel.EMAIL, email), (Channel.PUSH, push), (Channel.SMS, sms))
    configured = frozenset(channel for channel, sender in senders if sender is not None)
    async with transaction() as db:
        claimed = await delivery.claim(db, uuid.UUID(notification_id), _now(ctx), configured)
    if isinstance(claimed, str):
        return claimed
    row = claimed.notification
    try:
        if row.channel is Channel.EMAIL:
            assert email is not None
            await email.send(
                Email(
                    to=claimed.email,
                    subject=row.title,
                    text=row.body,
                    html=row.html or "",
                    message_key=f"{row.id}",
                )
            )
            outcome = "sent"
        elif row.channel is Channel.SMS:
            assert sms is not None
            outcome = await _sms(sms, claimed)
        else:
            assert push is not None
            outcome = await _push(push, claimed, _now(ctx))
    except SendFailed as error:
        async with transaction() as db:
            failed = await delivery.mark_failed_attempt(db, claimed, _now(ctx), str(error))
        logger.warning("notification %s: %s", row.id, failed)
        return failed
    if outcome == "sent":
        async with transaction() as db:
            await delivery.mark_sent(db, claimed, _now(ctx))
    return outcome


async def _push(sender: PushSender, claimed: delivery.Claim, now: datetime) -> str:
    """Sends to each of the user's active devices. Delivered to any: sent. Refused for good by all: those
    tokens are deactivated and the push skipped. Failed (for now) on every device: SendFailed, retried."""
    row = claimed.notification
    message = Push(title=row.title, body=row.body, data={"kind": row.kind, "notificationId": str(row.id)})
    delivered, failure = 0, None
    gone: dict[str, str] = {}
    for token in claimed.device_tokens:
        try:
            result = await sender.send(token, message)
        except SendFailed as error:
            failure = error
            continue
        if result is PushOutcome.DELIVERED:
            delivered += 1
        else:
            gone[token] = result.value
    if gone:
        async with transaction() as db:
            await delivery.deactivate_tokens(db, row.user_id, gone, now)
    if delivered:
        return "sent"
    if failure is not None:
        raise failure
    async with transaction() as db:
        await delivery.mark_skipped(db, claimed, "every device token was refused")
    return "skipped: every device token was refused"


async def _sms(sender: SmsSender, claimed: delivery.Claim) -> str:
    """Texts the verified phone. A number Twilio refuses for good (invalid, or the recipient sent STOP)
    switches the user's SMS preference off at once and the delivery is skipped."""
    row = claimed.notification
    assert claimed.phone is not None
    result = await sender.send(
        Sms(to=claimed.phone, body=text_of(row.title, row.body), message_key=str(row.id))
    )
    if result is SmsOutcome.DELIVERED:
        return "sent"
    reason = "the phone number was refused (invalid or unsubscribed); SMS is now off"
    async with transaction() as db:
        await delivery.mark_skipped(db, claimed, reason)
        await set_sms(db, row.user_id, False)
    return f"skipped: {reason}"


async def send_phone_code(ctx: dict[str, Any], user_id: str, number: str, nonce: str, sealed: str) -> str:
    """Texts a phone verification code, unless the user has since changed or verified the number."""
    async with read_session() as db:
        user = await phone.code_recipient(db, uuid.UUID(user_id), number)
    if user is None:
        return "no longer wanted"
    sender = _sms_sender(ctx)
    if sender is None:
        return "skipped: SMS is not configured"
    code = phone.open_code(user.id, nonce, sealed)
    text = CODE_TEXT[language_of(user.language)].format(code=code)
    result = await sender.send(Sms(to=number, body=text, message_key=f"phone-code-{nonce}"))
    if result is SmsOutcome.UNREACHABLE:
        return "the phone number was refused (invalid or unsubscribed)"
    return "sent"


CODE_TEXT = {
    "ko": "[StudyMate] 인증 코드: {code} (10분 동안 유효합니다)",
    "en": "[StudyMate] Your verification code: {code} (valid for 10 minutes)",
}


async def notify_session_starting(ctx: dict[str, Any], session_id: str) -> int:
    return await starting.notify_enrolled(uuid.UUID(session_id))


async def sweep(ctx: dict[str, Any]) -> int:
    """Queues again the deliveries whose job was lost; returns how many it queued."""
    async with read_session() as db:
        overdue = await delivery.undelivered(db, _now(ctx), SWEEP_BATCH)
    for notification_id, attempts, deliver_after in overdue:
        await enqueue_delivery(notification_id, attempts, deliver_after)
    return len(overdue)
