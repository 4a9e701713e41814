"""The user's phone for SMS: `update_phone` stores an E.164 number unverified and queues a 6-digit code by
SMS; `verify_phone` checks it. Only a verified phone receives notifications; an unverified one gets only
its code.

The code is stored as an HMAC (keyed by SECRET_KEY, bound to the user and the number), valid for
CODE_LIFETIME and MAX_CODE_TRIES wrong tries. An expired code or one with no tries left is a CONFLICT
(ask for a new code with `updatePhone`); a wrong code is BAD_USER_INPUT on `code`. Verifying turns the
user's `sms` preference on: they gave the number to get texts.
"""

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import text
from core.auth import Actor, require_user
from core.db import transaction
from core.errors import BadInput, Conflict, NotFound
from core.jobs import enqueue_after_commit
from core.ratelimit import PHONE_CODES
from core.settings import get_settings
from models.accounts import User
from resolvers.notifications.preferences import set_sms

E164 = re.compile(r"\+[1-9]\d{7,14}")
MAX_PHONE_LENGTH = 16
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_TRIES = 5
SEND_CODE_JOB = "phone.send_code"


def _code_hash(user_id: uuid.UUID, phone: str, code: str) -> str:
    message = f"{user_id}:{phone}:{code}".encode()
    return hmac.new(get_settings().secret_key.encode(), message, hashlib.sha256).hexdigest()


def _shift(user_id: uuid.UUID, nonce: str, digits: str, direction: int) -> str:
    """Adds (direction 1) or takes away (-1) a keyed pad of digits, one per digit, modulo 10."""
    message = f"phone-code-pad:{user_id}:{nonce}".encode()
    pad = hmac.new(get_settings().secret_key.encode(), message, hashlib.sha256).digest()
    return "".join(str((int(digit) + direction * pad[i]) % 10) for i, digit in enumerate(digits))


def open_code(user_id: uuid.UUID, nonce: str, sealed: str) -> str:
    """The code a `SEND_CODE_JOB` carries sealed."""
    return _shift(user_id, nonce, sealed, -1)


async def _own_user(db: AsyncSession, actor: Actor, *, lock: bool = False) -> User:
    user = await db.get(User, require_user(actor).user_id, with_for_update=lock)
    if user is None:
        raise NotFound("User")
    return user


async def update_phone(db: AsyncSession, actor: Actor, phone: str, now: datetime) -> User:
    """Stores the number unverified, with a new code, and queues the code's SMS after the commit.
    Rate limited per user (PHONE_CODES): each code is a text message."""
    cleaned = text.required(phone, "phone", max_length=MAX_PHONE_LENGTH)
    if not E164.fullmatch(cleaned):
        raise BadInput("A phone number in international format, like +821012345678", field="phone")
    user = await _own_user(db, actor, lock=True)
    await PHONE_CODES.enter(str(user.id))
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    user.phone = cleaned
    user.phone_verified = False
    user.phone_code_hash = _code_hash(user.id, cleaned, code)
    user.phone_code_expires_at = now + CODE_LIFETIME
    user.phone_code_tries = 0
    user.updated_at = now
    # The database keeps only the code's HMAC; the job's arguments (in Redis, and in the worker's log) carry
    # it sealed, for the worker to open.
    nonce = secrets.token_hex(8)
    enqueue_after_commit(db, SEND_CODE_JOB, str(user.id), cleaned, nonce, _shift(user.id, nonce, code, 1))
    return user


async def verify_phone(actor: Actor, code: str, now: datetime) -> User:
    """Marks the phone verified. A wrong try is counted in its own committed transaction before the error."""
    entered = text.required(code, "code", max_length=CODE_DIGITS)
    error: Conflict | BadInput | None = None
    async with transaction() as db:
        user = await _own_user(db, actor, lock=True)
        expires_at = user.phone_code_expires_at
        if user.phone is None or user.phone_code_hash is None or expires_at is None:
            error = Conflict("No phone verification is pending; set a phone number first")
        elif now >= expires_at:
            error = Conflict("The code has expired; ask for a new one")
        elif user.phone_code_tries >= MAX_CODE_TRIES:
            error = Conflict("Too many wrong codes; ask for a new one")
        elif not hmac.compare_digest(_code_hash(user.id, user.phone, entered), user.phone_code_hash):
            user.phone_code_tries += 1
            error = BadInput("That code is not right", field="code")
        else:
            user.phone_verified = True
            user.phone_code_hash = None
            user.phone_code_expires_at = None
            user.phone_code_tries = 0
            user.updated_at = now
            await set_sms(db, user.id, True)
    if error is not None:
        raise error
    return user


async def code_recipient(db: AsyncSession, user_id: uuid.UUID, phone: str) -> User | None:
    """The user, while the code for `phone` is still wanted: they still have that number, unverified."""
    user = await db.get(User, user_id)
    return user if user is not None and user.phone == phone and not user.phone_verified else None
