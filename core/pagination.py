"""Keyset pagination behind every Relay connection.

A cursor is the opaque, base64-encoded sort key of an item, so pages stay stable while rows are added.
"""

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped

from core.errors import BadInput

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Ours are well under 200 characters; a longer one was not made here.
MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.items[-1][0] if self.items else None


def _encode(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str, size: int) -> list[str]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadInput("Invalid cursor", field="after")
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError) as error:
        raise BadInput("Invalid cursor", field="after") from error
    if not isinstance(values, list) or len(values) != size:
        raise BadInput("Invalid cursor", field="after")
    return [str(v) for v in values]


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise BadInput(f"first must be between 0 and {MAX_PAGE_SIZE}", field="first")
    return first


async def paginate(
    db: AsyncSession,
    statement: Select[T],
    sort_keys: Sequence[Mapped[Any]],
    *,
    first: int | None,
    after: str | None,
    descending: bool = True,
    key_of: Callable[[T], Sequence[Any]] | None = None,
) -> Page[T]:
    """Pages `statement` by `sort_keys`, model columns as `sqlmodel.col()` gives them (the last one
    unique, e.g. the id)."""
    keys = [_attribute(key) for key in sort_keys]
    limit = page_size(first)
    if after is not None:
        values = [_parse(key, raw) for key, raw in zip(keys, _decode(after, len(keys)), strict=True)]
        statement = statement.where(_after(keys, values, descending))
    order = [key.desc() if descending else key.asc() for key in keys]
    rows = list((await db.execute(statement.order_by(*order).limit(limit + 1))).scalars())
    extract = key_of or (lambda row: [getattr(row, key.key) for key in keys])
    items = [(_encode(extract(row)), row) for row in rows[:limit]]
    return Page(items=items, has_next_page=len(rows) > limit)


def _attribute(key: Mapped[Any]) -> InstrumentedAttribute[Any]:
    if not isinstance(key, InstrumentedAttribute):
        raise TypeError(f"paginate sorts by model columns, not {key!r}")
    return key


# Postgres bigint; a larger number in a forged cursor would fail in the driver, not here.
_BIGINT = 2**63


def _parse(key: InstrumentedAttribute[Any], raw: str) -> Any:
    """The sort-key value a cursor names, or BadInput: cursors come back from clients, so anything that
    Postgres or the driver would refuse (naive or out-of-range times, NUL, huge numbers) is refused here."""
    python_type = key.type.python_type
    try:
        if python_type is datetime:
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                raise ValueError("a cursor's time must carry its offset")
            return moment.astimezone(UTC)
        value = python_type(raw)
    except (ValueError, OverflowError) as error:
        raise BadInput("Invalid cursor", field="after") from error
    if (isinstance(value, str) and "\x00" in value) or (isinstance(value, int) and abs(value) >= _BIGINT):
        raise BadInput("Invalid cursor", field="after")
    return value


def _after(keys: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], descending: bool) -> Any:
    """(k1, k2, …) strictly beyond the cursor, written out so Postgres can use the index."""
    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j] == values[j] for j in range(i)]
        beyond = key < values[i] if descending else key > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)
