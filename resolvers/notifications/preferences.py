"""A user's notification preferences and push devices."""

import uuid
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, require_user
from core.errors import BadInput
from models.base import utcnow
from models.notifications import DeviceToken, NotificationPreference, Platform
from resolvers.notifications.kinds import KINDS
from resolvers.notifications.rules import parse_hh_mm

MAX_DAILY_CAP = 50
MAX_MUTED_KINDS = 50
MAX_TOKEN_LENGTH = 4096


async def preferences_of(
    db: AsyncSession, user_id: uuid.UUID, *, lock: bool = False
) -> NotificationPreference:
    """The stored preferences, or the defaults (not added to the session) for a user who never chose."""
    stored = await db.get(NotificationPreference, user_id, with_for_update=lock)
    return stored if stored is not None else NotificationPreference(user_id=user_id, muted_kinds=[])


async def own_preferences(db: AsyncSession, actor: Actor) -> NotificationPreference:
    return await preferences_of(db, require_user(actor).user_id)


class Keep:
    """An input field that was not given: the stored value stays (None, by contrast, clears it)."""


KEEP = Keep()


@dataclass(frozen=True)
class PreferencesUpdate:
    email: bool | None = None
    push: bool | None = None
    sms: bool | None = None
    quiet_hours_start: str | Keep | None = KEEP
    quiet_hours_end: str | Keep | None = KEEP
    daily_cap: int | None = None
    muted_kinds: list[str] | None = None


def _hh_mm(value: str | Keep | None, stored: str | None, field: str) -> str | None:
    if isinstance(value, Keep):
        return stored
    cleaned = text.clean(value, field, max_length=5)
    if cleaned is not None and parse_hh_mm(cleaned) is None:
        raise BadInput(f"{field} must be a 24-hour time as HH:MM", field=field)
    return cleaned


async def update_preferences(
    db: AsyncSession, actor: Actor, update: PreferencesUpdate
) -> NotificationPreference:
    user = require_user(actor)
    current = await preferences_of(db, user.user_id, lock=True)
    start = _hh_mm(update.quiet_hours_start, current.quiet_hours_start, "quietHoursStart")
    end = _hh_mm(update.quiet_hours_end, current.quiet_hours_end, "quietHoursEnd")
    if (start is None) != (end is None):
        field = "quietHoursEnd" if end is None else "quietHoursStart"
        raise BadInput("Quiet hours need both a start and an end", field=field)
    if start is not None and start == end:
        raise BadInput("Quiet hours must not start and end at the same time", field="quietHoursEnd")
    if update.daily_cap is not None and not 0 <= update.daily_cap <= MAX_DAILY_CAP:
        raise BadInput(f"dailyCap must be between 0 and {MAX_DAILY_CAP}", field="dailyCap")
    muted = current.muted_kinds
    if update.muted_kinds is not None:
        if len(update.muted_kinds) > MAX_MUTED_KINDS:
            raise BadInput("Too many muted kinds", field="mutedKinds")
        unknown = sorted(set(update.muted_kinds) - KINDS.keys())
        if unknown:
            raise BadInput(f"Unknown notification kinds: {', '.join(unknown[:5])}", field="mutedKinds")
        muted = sorted(set(update.muted_kinds))
    values = {
        "email": current.email if update.email is None else update.email,
        "push": current.push if update.push is None else update.push,
        "sms": current.sms if update.sms is None else update.sms,
        "quiet_hours_start": start,
        "quiet_hours_end": end,
        "daily_cap": current.daily_cap if update.daily_cap is None else update.daily_cap,
        "muted_kinds": muted,
        "updated_at": utcnow(),
    }
    statement = (
        insert(NotificationPreference)
        .values(user_id=user.user_id, **values)
        .on_conflict_do_update(index_elements=["user_id"], set_=values)
        .returning(NotificationPreference)
    )
    stored = (await db.execute(statement.execution_options(populate_existing=True))).scalar_one()
    assert isinstance(stored, NotificationPreference)
    return stored


async def set_sms(db: AsyncSession, user_id: uuid.UUID, on: bool) -> None:
    """Turns the user's SMS on (a phone just verified) or off (Twilio refused the number)."""
    now = utcnow()
    defaults = NotificationPreference(user_id=user_id, muted_kinds=[], sms=on, updated_at=now)
    statement = (
        insert(NotificationPreference)
        .values(defaults.model_dump())
        .on_conflict_do_update(index_elements=["user_id"], set_={"sms": on, "updated_at": now})
    )
    await db.execute(statement)


async def register_device(db: AsyncSession, actor: Actor, token: str, platform: Platform) -> bool:
    """Stores the token for the signed-in user; a token registered by someone else moves to them."""
    user = require_user(actor)
    cleaned = text.required(token, "token", max_length=MAX_TOKEN_LENGTH)
    if any(character.isspace() for character in cleaned):
        raise BadInput("A device token has no spaces", field="token")
    now = utcnow()
    moved = {"user_id": user.user_id, "platform": platform.value, "active": True, "updated_at": now}
    statement = (
        insert(DeviceToken)
        .values(id=uuid.uuid4(), token=cleaned, created_at=now, deactivated_reason=None, **moved)
        .on_conflict_do_update(index_elements=["token"], set_={**moved, "deactivated_reason": None})
    )
    await db.execute(statement)
    return True


async def unregister_device(db: AsyncSession, actor: Actor, token: str) -> bool:
    """Forgets the signed-in user's token; False when they had no such token (someone else's stays)."""
    user = require_user(actor)
    cleaned = text.required(token, "token", max_length=MAX_TOKEN_LENGTH)
    statement = delete(DeviceToken).where(
        col(DeviceToken.token) == cleaned, col(DeviceToken.user_id) == user.user_id
    )
    result = await db.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
