"""Making event batches durable, and the statements that write them.

The api produces a validated batch to Kafka (acks=all) or, when Kafka is unreachable, writes it
straight to Postgres with `store_events`, the same idempotent statement the worker's drain
(`workers/ingest.py`) uses. Either way a mutation returns only once its events are durable. Rows the
drain cannot store go to the dead-letter table (`store_dead_letters`).
"""

import json
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka.errors import KafkaError
from sqlalchemy import TextClause, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import read_session, transaction
from core.kafka import (
    DEAD_LETTER_ROWS,
    FALLBACK_BATCHES,
    FALLBACK_EVENTS,
    activity_producer,
    consumer_lag,
    encode_messages,
)
from models.recordings import DeadLetter

RECORDING_KIND = "recording"
ACTIVITY_KIND = "activity"
EVENT_KINDS = frozenset({RECORDING_KIND, ACTIVITY_KIND})


class IngestPath(StrEnum):
    KAFKA = "KAFKA"
    DATABASE = "DATABASE"


# (column, Postgres type) in the order the unnest arrays are passed.
Columns = tuple[tuple[str, str], ...]
_RECORDING_EVENT_COLUMNS: Columns = (
    ("event_id", "uuid"),
    ("recording_id", "uuid"),
    ("event_type", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("package_name", "text"),
    ("class_name", "text"),
    ("text", "text"),
    ("content_description", "text"),
    ("view_id", "text"),
    ("bounds", "text"),
    ("is_sensitive", "boolean"),
    ("data", "jsonb"),
)
_ACTIVITY_EVENT_COLUMNS: Columns = (
    ("event_id", "uuid"),
    ("user_id", "uuid"),
    ("participant_id", "uuid"),
    ("session_id", "uuid"),
    ("step_id", "uuid"),
    ("recording_id", "uuid"),
    ("event_type", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("data", "jsonb"),
)


def _insert(table: str, columns: Columns, source: str, source_filter: str) -> str:
    """`INSERT … SELECT FROM <source> AS b ON CONFLICT (event_id) DO NOTHING`: one statement for a whole
    batch, whichever form the batch travels in."""
    names = ", ".join(name for name, _ in columns)
    return f"INSERT INTO {table} ({names}) SELECT {source} {source_filter} ON CONFLICT (event_id) DO NOTHING"


def _unnest(columns: Columns) -> str:
    """Rows as one array per column. Arrays travel as text (booleans as booleans) and are cast in SQL,
    so one JSON-safe row format serves Kafka and Postgres alike."""
    arrays = ", ".join(
        f"CAST(:{name} AS boolean[])" if kind == "boolean" else f"CAST(:{name} AS text[])"
        for name, kind in columns
    )
    names = ", ".join(name for name, _ in columns)
    casts = ", ".join(f"b.{name}::{kind}" for name, kind in columns)
    return f"{casts} FROM unnest({arrays}) AS b({names})"


def _recordset(columns: Columns) -> str:
    """Rows as one JSON array of objects keyed by column name, which Postgres reads in one pass."""
    typed = ", ".join(f"{name} {kind}" for name, kind in columns)
    names = ", ".join(f"b.{name}" for name, _ in columns)
    return f"{names} FROM json_to_recordset(CAST(:rows AS json)) AS b({typed})"


def _store_recording_events(source: str) -> TextClause:
    # Events of a recording that no longer exists are dropped rather than failing the whole batch forever.
    recording = "JOIN recordings r ON r.id = b.recording_id::uuid"
    insert = _insert("recording_events", _RECORDING_EVENT_COLUMNS, source, recording)
    return text(
        f"""
        WITH inserted AS ({insert} RETURNING recording_id),
        counted AS (
            UPDATE recordings r SET event_count = r.event_count + c.n
            FROM (SELECT recording_id, count(*) AS n FROM inserted GROUP BY recording_id) c
            WHERE r.id = c.recording_id
            RETURNING c.n
        )
        SELECT coalesce(sum(n), 0) FROM counted
        """
    )


def _store_activity_events(source: str) -> TextClause:
    insert = _insert("activity_events", _ACTIVITY_EVENT_COLUMNS, source, "")
    return text(f"WITH inserted AS ({insert} RETURNING 1) SELECT count(*) FROM inserted")


@dataclass(frozen=True)
class _Statements:
    columns: Columns
    # Rows as column arrays: each value converted by the driver, so a refused row gets the driver's or
    # Postgres's own reason for that value (a NUL byte is "invalid byte sequence").
    unnest: TextClause
    # Rows as JSON text, which Postgres parses itself: far less work in Python for a large batch.
    recordset: TextClause


_STATEMENTS = {
    RECORDING_KIND: _Statements(
        _RECORDING_EVENT_COLUMNS,
        _store_recording_events(_unnest(_RECORDING_EVENT_COLUMNS)),
        _store_recording_events(_recordset(_RECORDING_EVENT_COLUMNS)),
    ),
    ACTIVITY_KIND: _Statements(
        _ACTIVITY_EVENT_COLUMNS,
        _store_activity_events(_unnest(_ACTIVITY_EVENT_COLUMNS)),
        _store_activity_events(_recordset(_ACTIVITY_EVENT_COLUMNS)),
    ),
}


def _statements(kind: str) -> _Statements:
    try:
        return _STATEMENTS[kind]
    except KeyError:
        raise ValueError(f"unknown event kind {kind!r}") from None


def _column_arrays(rows: Sequence[dict[str, Any]], columns: Columns) -> dict[str, list[Any]]:
    arrays: dict[str, list[Any]] = {}
    for name, kind in columns:
        if kind == "boolean":
            arrays[name] = [bool(row.get(name)) for row in rows]
        elif kind == "jsonb":
            arrays[name] = [None if row.get(name) is None else json.dumps(row[name]) for row in rows]
        else:
            arrays[name] = [row.get(name) for row in rows]
    return arrays


async def store_events(db: AsyncSession, kind: str, rows: Sequence[dict[str, Any]]) -> int:
    """Writes a batch of one kind with one statement; returns how many rows were new."""
    if not rows:
        return 0
    statements = _statements(kind)
    inserted = (await db.execute(statements.unnest, _column_arrays(rows, statements.columns))).scalar_one()
    return int(inserted)


async def store_events_json(db: AsyncSession, kind: str, rows: str) -> int:
    """`store_events` for a batch given as a JSON array of rows (the wire format's `events`); returns how
    many rows were new. A value Postgres cannot read refuses the batch, as it does in `store_events`,
    though with the JSON parser's reason rather than the column's."""
    inserted = (await db.execute(_statements(kind).recordset, {"rows": rows})).scalar_one()
    return int(inserted)


async def ingest(kind: str, key: str, rows: list[dict[str, Any]]) -> IngestPath:
    """Kafka when it acknowledges the batch; otherwise Postgres, committed before this returns."""
    if await activity_producer().send(key, encode_messages(kind, rows), len(rows)):
        return IngestPath.KAFKA
    async with transaction() as db:
        await store_events(db, kind, rows)
    FALLBACK_BATCHES.inc()
    FALLBACK_EVENTS.inc(len(rows))
    return IngestPath.DATABASE


@dataclass(frozen=True)
class DeadLetterDraft:
    """Where a refused row came from, the row itself (ASCII-escaped JSON, or the escaped raw message),
    and why it was refused."""

    topic: str
    partition: int
    offset: int
    position: int
    key: str | None
    payload: str
    error: str


_STORE_DEAD_LETTERS = text(
    """
    INSERT INTO dead_letters (id, topic, partition, "offset", position, key, payload, error, created_at)
    SELECT gen_random_uuid(), d.topic, d.partition, d.offset, d.position, d.key, d.payload, d.error, now()
    FROM unnest(CAST(:topic AS text[]), CAST(:partition AS int[]), CAST(:offset AS bigint[]),
                CAST(:position AS int[]), CAST(:key AS text[]), CAST(:payload AS text[]),
                CAST(:error AS text[])) AS d(topic, partition, "offset", position, key, payload, error)
    ON CONFLICT (topic, partition, "offset", position) DO NOTHING
    RETURNING 1
    """
)


async def store_dead_letters(db: AsyncSession, letters: Sequence[DeadLetterDraft]) -> int:
    """Keeps refused rows with their reason; a redelivered one is not kept twice. Returns how many
    were new."""
    if not letters:
        return 0
    fields = ("topic", "partition", "offset", "position", "key", "payload", "error")
    arrays = {name: [getattr(letter, name) for letter in letters] for name in fields}
    return len((await db.execute(_STORE_DEAD_LETTERS, arrays)).all())


async def dead_letter_count(db: AsyncSession) -> int:
    return int((await db.execute(select(func.count()).select_from(DeadLetter))).scalar_one())


async def scrape_dead_letters() -> None:
    """Scrape hook for /metrics: the dead-letter table's size, whichever worker wrote it."""
    async with read_session() as db:
        DEAD_LETTER_ROWS.set(await dead_letter_count(db))


async def drain_figures() -> dict[str, object]:
    """For /health/ready's Kafka entry: messages not drained yet, and rows kept as dead letters."""
    async with read_session() as db:
        figures: dict[str, object] = {"deadLetters": await dead_letter_count(db)}
    with suppress(KafkaError, OSError, TimeoutError):
        figures["consumerLag"] = sum((await consumer_lag()).values())
    return figures
