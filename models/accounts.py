import uuid
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import Column, Index, String, func
from sqlmodel import Field, SQLModel

from core.auth import Role
from models.base import created_at_field, enum_type, id_field, timestamp_field


class DigitalLevel(StrEnum):
    BEGINNER = "BEGINNER"
    INTERMEDIATE = "INTERMEDIATE"
    ADVANCED = "ADVANCED"


class User(SQLModel, table=True):
    __tablename__ = "users"
    # Emails are unique regardless of case; the stored spelling is the user's own.
    __table_args__ = (Index("uq_users_email_lower", func.lower(Column("email", String(254))), unique=True),)

    id: uuid.UUID = id_field()
    email: str = Field(max_length=254)
    password_hash: str = Field(max_length=255)
    name: str = Field(max_length=100)
    role: Role = Field(default=Role.STUDENT, sa_type=enum_type(Role))
    digital_level: DigitalLevel | None = Field(default=None, sa_type=enum_type(DigitalLevel))
    bio: str | None = Field(default=None, max_length=1000)
    timezone: str = Field(default="UTC", max_length=64)
    language: str = Field(default="ko", max_length=16)
    # E.164; SMS goes to it only once verified (resolvers/accounts_phone.py).
    phone: str | None = Field(default=None, max_length=16)
    phone_verified: bool = False
    # The pending verification code: its HMAC, when it expires, and the wrong tries spent on it.
    phone_code_hash: str | None = Field(default=None, max_length=64)
    phone_code_expires_at: datetime | None = timestamp_field()
    phone_code_tries: int = 0
    total_study_minutes: int = 0
    streak_days: int = 0
    failed_login_count: int = 0
    locked_until: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class UserRecord(NamedTuple):
    """What the `User` type shows of a user, read without an ORM instance (core.reads)."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    digital_level: DigitalLevel | None
    bio: str | None
    timezone: str
    language: str
    phone: str | None
    phone_verified: bool
    total_study_minutes: int
    streak_days: int
    created_at: datetime


class RefreshToken(SQLModel, table=True):
    """One link of a rotation chain; a family is every token descended from one login."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = created_at_field()
    used_at: datetime | None = timestamp_field()
    revoked_at: datetime | None = timestamp_field()


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempts"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=254)
    ip_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    succeeded: bool
    reason: str = Field(max_length=32)
    created_at: datetime = created_at_field()
