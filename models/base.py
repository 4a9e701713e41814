"""What every table shares: the naming convention, UUID keys, UTC timestamps and enum columns."""

import uuid
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy import DateTime
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

# Stable constraint names keep Alembic diffs deterministic.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


# SQLModel's `Field()` is typed Any so that `x: T = Field()` checks; these helpers declare the value type
# the same way, so a model's `id: uuid.UUID = id_field()` stays typed.


def id_field() -> uuid.UUID:
    field: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    return field


def created_at_field() -> datetime:
    field: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)
    return field


def timestamp_field(*, index: bool = False) -> datetime | None:
    field: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), nullable=True, index=index)
    return field


def enum_type(enum: type[Enum]) -> SAEnum:
    """Enums are stored as short strings, so adding a member never needs a type migration."""
    return SAEnum(enum, native_enum=False, length=24, create_constraint=False)
