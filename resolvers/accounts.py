"""Registration, sign-in with lockout, refresh-token rotation and the user's own profile."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import auth, text
from core.auth import Actor, Role, require_user
from core.db import in_key_order, transaction
from core.errors import BadInput, Conflict, NotFound, Unauthenticated
from core.jobs import enqueue_after_commit
from core.reads import Db, Read, any_of, record_select
from core.settings import get_settings
from models.accounts import DigitalLevel, LoginAttempt, RefreshToken, User, UserRecord
from models.base import utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# The users table's own limits, narrower than the general ones in core/text.
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100
MAX_BIO_LENGTH = 1000
INVALID_CREDENTIALS = "Invalid email or password"
_TIMEZONES = frozenset(available_timezones())


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Registration:
    email: str
    password: str
    name: str
    digital_level: DigitalLevel | None = None
    instructor_invite_code: str | None = None


@dataclass(frozen=True)
class ProfileChanges:
    name: str | None = None
    bio: str | None = None
    timezone: str | None = None
    language: str | None = None
    digital_level: DigitalLevel | None = None


@dataclass(frozen=True)
class AuthResult:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def normalize_email(email: str) -> str:
    cleaned = text.required(email, "email", max_length=MAX_EMAIL_LENGTH)
    try:
        return validate_email(cleaned, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise BadInput("Enter a valid email address", field="email") from error


# Passwords are never cleaned or normalised: they are compared as typed, and only their hash is stored.
def _check_password(password: str, field: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"Password must be at least {MIN_PASSWORD_LENGTH} characters", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadInput(f"Password must be at most {MAX_PASSWORD_LENGTH} characters", field=field)


def _clean_name(name: str) -> str:
    cleaned = text.clean(name, "name", max_length=MAX_NAME_LENGTH, required=True, collapse_spaces=True)
    assert cleaned is not None
    return cleaned


async def find_by_email(db: AsyncSession, email: str, *, for_update: bool = False) -> User | None:
    statement = select(User).where(func.lower(col(User.email)) == email.lower())
    if for_update:
        statement = statement.with_for_update()
    return (await db.execute(statement)).scalar_one_or_none()


async def _issue_tokens(db: AsyncSession, user: User, family_id: uuid.UUID | None = None) -> AuthResult:
    access_token, expires_in = auth.issue_access_token(user.id, user.role)
    refresh_token, token_hash = auth.new_refresh_token()
    db.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=token_hash,
            expires_at=utcnow() + timedelta(days=get_settings().refresh_token_days),
        )
    )
    return AuthResult(access_token, refresh_token, expires_in, user)


async def register(db: AsyncSession, registration: Registration) -> AuthResult:
    email = normalize_email(registration.email)
    _check_password(registration.password, "password")
    name = _clean_name(registration.name)
    role = Role.STUDENT
    if registration.instructor_invite_code is not None:
        expected = get_settings().instructor_invite_code
        if not expected or registration.instructor_invite_code != expected:
            raise BadInput("Invalid instructor invite code", field="instructorInviteCode")
        role = Role.INSTRUCTOR
    if await find_by_email(db, email) is not None:
        raise Conflict("An account with this email already exists", field="email")
    user = User(
        email=email,
        password_hash=await auth.hash_password(registration.password),
        name=name,
        role=role,
        digital_level=registration.digital_level,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError as error:
        # Lost a race with a concurrent registration of the same email.
        raise Conflict("An account with this email already exists", field="email") from error
    enqueue_after_commit(db, "notification.welcome", str(user.id), job_id=f"welcome:{user.id}")
    return await _issue_tokens(db, user)


async def login(email: str, password: str, client: ClientInfo) -> AuthResult:
    """Signs in, or raises the one error that never tells which part was wrong.

    Owns its transaction: the attempt and the failure count must be committed even when the answer is
    an error.
    """
    settings = get_settings()
    # An address with control characters can be no account's; refusing it keeps it out of the history.
    email = text.required(email, "email", max_length=MAX_EMAIL_LENGTH)
    async with transaction() as db:
        user = await find_by_email(db, email, for_update=True)
        now = utcnow()
        locked = user is not None and user.locked_until is not None and user.locked_until > now
        valid = await auth.verify_password(user.password_hash if user else None, password)
        succeeded = user is not None and valid and not locked
        reason = (
            "ok" if succeeded else "unknown_email" if user is None else "locked" if locked else "bad_password"
        )
        db.add(
            LoginAttempt(
                user_id=user.id if user else None,
                email=email,
                ip_address=client.ip_address,
                user_agent=(client.user_agent or "")[:300] or None,
                succeeded=succeeded,
                reason=reason,
            )
        )
        result: AuthResult | None = None
        if user is not None and succeeded:
            user.failed_login_count = 0
            user.locked_until = None
            if auth.password_needs_rehash(user.password_hash):
                user.password_hash = await auth.hash_password(password)
            result = await _issue_tokens(db, user)
        elif user is not None and not locked:
            user.failed_login_count += 1
            if user.failed_login_count >= settings.login_max_failures:
                user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
                user.failed_login_count = 0
    if result is None:
        raise Unauthenticated(INVALID_CREDENTIALS)
    return result


async def refresh(refresh_token: str) -> AuthResult:
    """Rotates a refresh token. Presenting one that was already rotated revokes its whole family.

    Owns its transaction so that the revocation is committed even though the answer is an error.
    """
    now = utcnow()
    async with transaction() as db:
        statement = (
            select(RefreshToken)
            .where(col(RefreshToken.token_hash) == auth.hash_refresh_token(refresh_token))
            .with_for_update()
        )
        token = (await db.execute(statement)).scalar_one_or_none()
        result: AuthResult | None = None
        if token is not None and (token.used_at is not None or token.revoked_at is not None):
            await _revoke_family(db, token.family_id)
        elif token is not None and token.expires_at > now:
            token.used_at = now
            user = await db.get(User, token.user_id)
            if user is not None:
                result = await _issue_tokens(db, user, family_id=token.family_id)
    if result is None:
        raise Unauthenticated("Invalid refresh token")
    return result


async def _revoke_family(db: AsyncSession, family_id: uuid.UUID) -> None:
    await db.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


async def logout(db: AsyncSession, refresh_token: str) -> bool:
    statement = select(RefreshToken).where(
        col(RefreshToken.token_hash) == auth.hash_refresh_token(refresh_token)
    )
    token = (await db.execute(statement)).scalar_one_or_none()
    if token is None:
        return False
    await _revoke_family(db, token.family_id)
    return True


async def current_user(db: AsyncSession, actor: Actor) -> User | None:
    if not isinstance(actor, auth.UserActor):
        return None
    return await db.get(User, actor.user_id)


async def _require_current_user(db: AsyncSession, actor: Actor) -> User:
    user_actor = require_user(actor)
    user = await db.get(User, user_actor.user_id, with_for_update=True)
    if user is None:
        raise NotFound("User")
    return user


async def update_profile(db: AsyncSession, actor: Actor, changes: ProfileChanges) -> User:
    user = await _require_current_user(db, actor)
    if changes.name is not None:
        user.name = _clean_name(changes.name)
    if changes.bio is not None:
        user.bio = text.clean(changes.bio, "bio", max_length=MAX_BIO_LENGTH, multi_line=True)
    if changes.timezone is not None:
        # An exact name from the tz database, which holds no control characters.
        if changes.timezone not in _TIMEZONES:
            raise BadInput("Unknown time zone", field="timezone")
        user.timezone = changes.timezone
    if changes.language is not None:
        user.language = text.language_tag(changes.language, "language")
    if changes.digital_level is not None:
        user.digital_level = changes.digital_level
    user.updated_at = utcnow()
    return user


async def change_password(db: AsyncSession, actor: Actor, current_password: str, new_password: str) -> bool:
    user = await _require_current_user(db, actor)
    if not await auth.verify_password(user.password_hash, current_password):
        raise BadInput("Current password is wrong", field="currentPassword")
    _check_password(new_password, "newPassword")
    user.password_hash = await auth.hash_password(new_password)
    user.updated_at = utcnow()
    # Every signed-in device must sign in again with the new password.
    await db.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user.id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return True


_USERS = Read(UserRecord, record_select(UserRecord._fields, User).where(any_of(User.id, "ids")))


async def users_by_ids(db: Db, ids: list[uuid.UUID]) -> list[UserRecord | None]:
    return in_key_order(ids, await _USERS.all(db, ids=ids), lambda row: row.id)
