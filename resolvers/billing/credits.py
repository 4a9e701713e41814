"""The credit ledger: append-only entries per user and kind; a balance is the sum of their deltas.

Every change of one user's credits of one kind first locks that pair's `credit_balances` row (created on
first use), so concurrent spends in any number of api processes are serialised by Postgres and N spends
against k remaining succeed exactly k times. The row also names the current credit period (`bucket`)
and when it ends (`resets_at`):

- a paid period starts with `invoice.paid` (`grant_period`): what is left of the previous period expires
  and the plan's credits are granted, once per invoice (`grant:invoice:<id>:<kind>`);
- when the period has ended, the next use starts the calendar month on `free`: the rest expires and the
  free credits are granted lazily, once per month (`grant:free:<yyyy-mm>:<kind>`);
- a refund ends its period at once and claws back what is left of it.

Unlimited kinds still write their spends (delta 0), so history and idempotency work the same way.
Reading never writes: `balances` shows a period that has ended as the free month it will become.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from core import text
from core.auth import Actor, Role, require_role, require_user
from core.errors import BadInput, Conflict, NotFound, PaymentRequired
from core.pagination import Page, paginate
from models.accounts import User
from models.base import utcnow
from models.billing import CreditBalance, CreditEntry, CreditKind, EntryType, Plan
from resolvers.billing import plans

KINDS: Sequence[CreditKind] = tuple(CreditKind)  # also the order locks are taken in
MAX_KEY_LENGTH = 150
MAX_REASON_LENGTH = 200
MAX_GRANT = 100_000


@dataclass(frozen=True)
class Balance:
    kind: CreditKind
    remaining: int
    unlimited: bool
    resets_at: datetime | None


def free_month(now: datetime) -> tuple[str, datetime]:
    """The free period containing `now` (a calendar month in UTC) and its end."""
    now = now.astimezone(UTC)
    next_month = (
        datetime(now.year + 1, 1, 1, tzinfo=UTC)
        if now.month == 12
        else datetime(now.year, now.month + 1, 1, tzinfo=UTC)
    )
    return f"free:{now:%Y-%m}", next_month


def invoice_bucket(invoice_id: str) -> str:
    return f"invoice:{invoice_id}"


# Spending


async def spend(
    db: AsyncSession, user_id: uuid.UUID, kind: CreditKind, reason: str, idempotency_key: str
) -> CreditEntry:
    """Spends one credit of `kind` inside the caller's transaction; PaymentRequired when none is left.

    The same `idempotency_key` returns the entry of the first spend instead of spending again, so a
    retried request or job never pays twice. Roll the caller's transaction back and the spend is gone.
    """
    entry, _ = await _spend(db, user_id, kind, reason, idempotency_key)
    return entry


async def _spend(
    db: AsyncSession, user_id: uuid.UUID, kind: CreditKind, reason: str, idempotency_key: str
) -> tuple[CreditEntry, Balance]:
    """The spend and the balance after it; the lock is held from the first statement to the commit."""
    idempotency_key = text.required(idempotency_key, "idempotencyKey", max_length=MAX_KEY_LENGTH)
    reason = text.required(reason, "reason", max_length=MAX_REASON_LENGTH)
    key = f"spend:{idempotency_key}"
    row = await _lock(db, user_id, kind)
    remaining, key_used = await _remaining_and_key(db, user_id, kind, key)
    if key_used:
        existing = await _entry_by_key(db, user_id, key)
        assert existing is not None
        if existing.kind != kind:
            raise Conflict("This idempotency key was used for another kind of credit", field="idempotencyKey")
        return existing, await balance(db, user_id, kind)
    if not _is_current(row, utcnow()):
        await _start_current_period(db, row, utcnow())
        remaining = await _remaining(db, user_id, kind)
    if not row.unlimited and remaining < 1:
        raise PaymentRequired(
            f"No {kind.value} credits left",
            extra={"kind": kind.value, "resetsAt": row.resets_at.isoformat() if row.resets_at else None},
        )
    delta = 0 if row.unlimited else -1
    entry = await _append(db, row, EntryType.SPEND, delta, reason, key=key)
    return entry, Balance(kind, remaining + delta, row.unlimited, row.resets_at)


async def refund_spend(db: AsyncSession, user_id: uuid.UUID, idempotency_key: str, reason: str) -> None:
    """Gives back the credit of a spend whose work failed, once, if its period is still the current one."""
    spent = await _entry_by_key(db, user_id, f"spend:{idempotency_key}")
    if spent is None or spent.delta == 0:
        return
    row = await _lock(db, user_id, spent.kind)
    key = f"refund:{idempotency_key}"
    if row.bucket != spent.bucket or not _is_current(row, utcnow()):
        return
    if await _entry_by_key(db, user_id, key) is None:
        await _append(db, row, EntryType.REFUND, -spent.delta, reason, key=key)


# Granting


async def grant(
    db: AsyncSession,
    user_id: uuid.UUID,
    kind: CreditKind,
    amount: int,
    reason: str,
    *,
    actor_id: uuid.UUID | None = None,
) -> CreditEntry:
    """Adds `amount` (> 0) credits to the current period; they expire with it like the plan's own."""
    if not 0 < amount <= MAX_GRANT:
        raise BadInput(f"amount must be between 1 and {MAX_GRANT}", field="amount")
    reason = text.required(reason, "reason", max_length=MAX_REASON_LENGTH)
    row = await _lock(db, user_id, kind)
    await _start_current_period(db, row, utcnow())
    return await _append(db, row, EntryType.GRANT, amount, reason, actor_id=actor_id)


async def grant_period(
    db: AsyncSession,
    user_id: uuid.UUID,
    plan: Plan,
    invoice_id: str,
    period_start: datetime,
    period_end: datetime,
) -> bool:
    """Starts the paid period an invoice paid for, once per invoice; False when it is not granted.

    A period that is over, or older than the paid period already running, grants nothing.
    """
    now = utcnow()
    if period_end <= now:
        return False
    bucket = invoice_bucket(invoice_id)
    granted = False
    for kind in KINDS:
        row = await _lock(db, user_id, kind)
        key = f"grant:{bucket}:{kind.value}"
        if await _entry_by_key(db, user_id, key) is not None:
            continue
        if row.bucket.startswith("invoice:") and row.resets_at is not None and row.resets_at > period_end:
            continue
        await _expire(db, row)
        allowance = plan.allowance(kind)
        row.bucket, row.unlimited, row.resets_at = bucket, allowance is None, period_end
        words = "unlimited" if allowance is None else f"{allowance} credits"
        reason = f"{plan.name}: {words} for {period_start:%Y-%m-%d} to {period_end:%Y-%m-%d}"
        await _append(db, row, EntryType.GRANT, allowance or 0, reason, key=key)
        granted = True
    return granted


async def claw_back_period(db: AsyncSession, user_id: uuid.UUID, invoice_id: str) -> None:
    """A refunded invoice's period ends now, and what is left of its credits is taken back, once."""
    bucket = invoice_bucket(invoice_id)
    now = utcnow()
    for kind in KINDS:
        row = await _lock(db, user_id, kind)
        granted = await _entry_by_key(db, user_id, f"grant:{bucket}:{kind.value}")
        if granted is None or row.bucket != bucket:
            continue
        key = f"clawback:{bucket}:{kind.value}"
        amount = min(await _remaining(db, user_id, kind), granted.delta)
        if amount > 0 and await _entry_by_key(db, user_id, key) is None:
            reason = "Payment refunded: unspent credits of the period taken back"
            await _append(db, row, EntryType.CLAWBACK, -amount, reason, key=key)
        if row.resets_at is None or row.resets_at > now:
            row.resets_at = now
            row.updated_at = now


# Reading


async def balances(db: AsyncSession, user_id: uuid.UUID) -> list[Balance]:
    """Every kind's balance as the next use will find it (an ended period shown as the free month)."""
    now = utcnow()
    rows = {
        row.kind: row
        for row in (
            await db.execute(select(CreditBalance).where(col(CreditBalance.user_id) == user_id))
        ).scalars()
    }
    sums = {
        CreditKind(kind): int(total)
        for kind, total in await db.execute(
            select(col(CreditEntry.kind), func.sum(col(CreditEntry.delta)))
            .where(col(CreditEntry.user_id) == user_id)
            .group_by(CreditEntry.kind)
        )
    }
    month, month_end = free_month(now)
    free: Plan | None = None
    result = []
    for kind in KINDS:
        row = rows.get(kind)
        if row is not None and _is_current(row, now):
            result.append(Balance(kind, sums.get(kind, 0), row.unlimited, row.resets_at))
            continue
        # The next use expires what is left and grants this month's free credits, unless it already did.
        free = free or await plans.free_plan(db)
        allowance = free.allowance(kind)
        key = f"grant:{month}:{kind.value}"
        already = row is not None and row.bucket == month
        already = already or await _entry_by_key(db, user_id, key) is not None
        if allowance is None:
            result.append(Balance(kind, 0, True, month_end))
        else:
            result.append(Balance(kind, 0 if already else allowance, False, month_end))
    return result


async def balance(db: AsyncSession, user_id: uuid.UUID, kind: CreditKind) -> Balance:
    return next(b for b in await balances(db, user_id) if b.kind is kind)


async def history(
    db: AsyncSession, user_id: uuid.UUID, kind: CreditKind | None, *, first: int | None, after: str | None
) -> Page[CreditEntry]:
    statement = select(CreditEntry).where(col(CreditEntry.user_id) == user_id)
    if kind is not None:
        statement = statement.where(col(CreditEntry.kind) == kind)
    keys = [col(CreditEntry.created_at), col(CreditEntry.id)]
    return await paginate(db, statement, keys, first=first, after=after)


# The signed-in user's and the admin's operations


async def my_balances(db: AsyncSession, actor: Actor) -> list[Balance]:
    return await balances(db, require_user(actor).user_id)


async def my_history(
    db: AsyncSession, actor: Actor, kind: CreditKind | None, *, first: int | None, after: str | None
) -> Page[CreditEntry]:
    return await history(db, require_user(actor).user_id, kind, first=first, after=after)


async def spend_mine(
    db: AsyncSession, actor: Actor, kind: CreditKind, reason: str, idempotency_key: str
) -> Balance:
    _, after = await _spend(db, require_user(actor).user_id, kind, reason, idempotency_key)
    return after


async def grant_by_admin(
    db: AsyncSession, actor: Actor, user_id: uuid.UUID, kind: CreditKind, amount: int, reason: str
) -> Balance:
    """A support case: credits for a user, written to the ledger with the admin's id."""
    admin = require_role(actor, Role.ADMIN)
    if await db.get(User, user_id) is None:
        raise NotFound("User")
    await grant(db, user_id, kind, amount, reason, actor_id=admin.user_id)
    return await balance(db, user_id, kind)


# The ledger's mechanics, always under the pair's lock


async def _lock(db: AsyncSession, user_id: uuid.UUID, kind: CreditKind) -> CreditBalance:
    await db.execute(
        insert(CreditBalance)
        .values(user_id=user_id, kind=kind, bucket="", unlimited=False, resets_at=None, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id", "kind"])
    )
    statement = (
        select(CreditBalance)
        .where(col(CreditBalance.user_id) == user_id, col(CreditBalance.kind) == kind)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(statement)).scalar_one()


def _is_current(row: CreditBalance, now: datetime) -> bool:
    return bool(row.bucket) and row.resets_at is not None and row.resets_at > now


async def _start_current_period(db: AsyncSession, row: CreditBalance, now: datetime) -> None:
    """An ended (or never started) period becomes the free month: the rest expires, free credits come."""
    if _is_current(row, now):
        return
    month, month_end = free_month(now)
    if row.bucket != month:
        await _expire(db, row)
    allowance = (await plans.free_plan(db)).allowance(row.kind)
    row.bucket, row.unlimited, row.resets_at, row.updated_at = month, allowance is None, month_end, now
    key = f"grant:{month}:{row.kind.value}"
    if allowance and await _entry_by_key(db, row.user_id, key) is None:
        await _append(db, row, EntryType.GRANT, allowance, f"Free plan: {now:%B %Y}", key=key)


async def _expire(db: AsyncSession, row: CreditBalance) -> None:
    remaining = await _remaining(db, row.user_id, row.kind)
    if remaining > 0 and row.bucket:
        await _append(db, row, EntryType.EXPIRY, -remaining, "The credit period ended")


async def _remaining(db: AsyncSession, user_id: uuid.UUID, kind: CreditKind) -> int:
    statement = select(func.coalesce(func.sum(col(CreditEntry.delta)), 0)).where(
        col(CreditEntry.user_id) == user_id, col(CreditEntry.kind) == kind
    )
    return int((await db.execute(statement)).scalar_one())


async def _remaining_and_key(
    db: AsyncSession, user_id: uuid.UUID, kind: CreditKind, key: str
) -> tuple[int, bool]:
    """The balance, and whether `key` was used by any of the user's entries, in one round trip."""
    # An alias, so the subquery is not correlated with the outer query's table.
    other = aliased(CreditEntry)
    used = (
        select(col(other.id)).where(col(other.user_id) == user_id, col(other.idempotency_key) == key).exists()
    )
    statement = select(func.coalesce(func.sum(col(CreditEntry.delta)), 0), used).where(
        col(CreditEntry.user_id) == user_id, col(CreditEntry.kind) == kind
    )
    total, key_used = (await db.execute(statement)).one()
    return int(total), bool(key_used)


async def _entry_by_key(db: AsyncSession, user_id: uuid.UUID, key: str) -> CreditEntry | None:
    statement = select(CreditEntry).where(
        col(CreditEntry.user_id) == user_id, col(CreditEntry.idempotency_key) == key
    )
    return (await db.execute(statement)).scalar_one_or_none()


async def _append(
    db: AsyncSession,
    row: CreditBalance,
    entry_type: EntryType,
    delta: int,
    reason: str,
    *,
    key: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> CreditEntry:
    entry = CreditEntry(
        user_id=row.user_id,
        kind=row.kind,
        entry_type=entry_type,
        delta=delta,
        reason=reason[:MAX_REASON_LENGTH],
        bucket=row.bucket,
        idempotency_key=key,
        actor_id=actor_id,
        created_at=utcnow(),
    )
    db.add(entry)
    await db.flush()
    return entry
