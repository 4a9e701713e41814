"""Days as the user lives them: local dates in `User.timezone`, in SQL and in Python.

Postgres converts with `timezone(zone, ts)` (the function form of `AT TIME ZONE`): a timestamptz
becomes the local wall-clock time, and a local wall-clock time becomes a timestamptz. A local date's
activity is then the half-open range [local midnight, next local midnight), which the index on
`occurred_at` serves, rather than a local date computed for every row.
"""

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, ScalarSelect, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from models.accounts import User

users = User.__table__  # type: ignore[attr-defined]


def user_timezone(user_id: ColumnElement[uuid.UUID] | uuid.UUID) -> ScalarSelect[Any]:
    """The user's time zone name, as a scalar subquery (correlated when `user_id` is a column)."""
    # Correlated to whichever enclosing statement holds the column, however deeply this is nested (the
    # default correlates only to the immediately enclosing SELECT).
    return select(users.c.timezone).where(users.c.id == user_id).correlate_except(users).scalar_subquery()


def local_date(moment: ColumnElement[datetime] | datetime, zone: ColumnElement[Any]) -> ColumnElement[date]:
    return cast(func.timezone(zone, moment), Date())


def local_midnight(day: ColumnElement[date], zone: ColumnElement[Any]) -> ColumnElement[datetime]:
    """The instant `day` begins in `zone`."""
    return func.timezone(zone, cast(day, DateTime()), type_=DateTime(timezone=True))


def today_in(zone_name: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone_name)).date()
