"""The Kafka drain: activity-log messages into Postgres, in batches, exactly once in effect.

A batch is whatever `getmany` returns. It is written in one transaction with one statement per kind,
its rows passed to Postgres as one JSON array (`resolvers.recordings.ingest.store_events_json`), and the
Kafka offsets are committed only after that transaction committed. A crash between the two redelivers
the batch, which then inserts nothing new: rows are keyed by the client's event id.

Nothing can block the drain. A write that fails because Postgres or the connection failed is retried
from the same offsets, never skipped. A write that Postgres refuses for the rows' own sake (a data or
constraint error: a NUL byte, NaN in JSON, a missing column) can never succeed, so the batch is written
again as column arrays (`store_events`, whose errors name the refused value) and split in halves until
the refused rows are isolated; those go to the dead-letter table with the error, the others are stored,
and the offsets move on. A message nobody can read goes there whole.

`stop()` lets the batch in hand finish (written and committed) before the consumer leaves its group.
"""

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from core.db import transaction
from core.kafka import DEAD_LETTERS, DRAIN_STATS_KEY, decode_message, ensure_topic
from core.redis import redis
from core.settings import get_settings
from resolvers.recordings.ingest import (
    EVENT_KINDS,
    DeadLetterDraft,
    store_dead_letters,
    store_events,
    store_events_json,
)

logger = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 2000
POLL_TIMEOUT_MS = 200
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 2000
MAX_BACKOFF_SECONDS = 10.0
# SQLSTATE classes of errors about the data itself: 22 data exception, 23 integrity constraint violation.
ROW_LEVEL_SQLSTATE_CLASSES = frozenset({"22", "23"})
UNREADABLE = -1

Message: TypeAlias = ConsumerRecord[bytes, bytes]
Batch: TypeAlias = Mapping[TopicPartition, Sequence[Message]]


@dataclass(frozen=True)
class Entry:
    """One row of a batch, with the message it came in."""

    kind: str
    row: dict[str, Any]
    message: Message
    position: int


@dataclass(frozen=True)
class Readable:
    """A message of a known kind holding a list of rows, and those rows as JSON text for Postgres."""

    kind: str
    rows: list[dict[str, Any]]
    rows_json: str
    message: Message

    def entries(self) -> list[Entry]:
        return [Entry(self.kind, row, self.message, position) for position, row in enumerate(self.rows)]


def _escaped(value: bytes | None) -> str | None:
    """Bytes as text Postgres stores whatever they hold: invalid UTF-8 and NUL written as escapes."""
    if value is None:
        return None
    return value.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def _letter(message: Message, position: int, payload: str, error: str) -> DeadLetterDraft:
    return DeadLetterDraft(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        position=position,
        key=_escaped(message.key),
        payload=payload,
        error=error.replace("\x00", "\\x00"),
    )


def _read(message: Message) -> Readable:
    """The message's rows; raises ValueError, KeyError or TypeError unless it is `{"kind": …, "events":
    [{…}]}` of a known kind."""
    kind, events, exact = decode_message(message.value or b"")
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise ValueError("events is not a list of objects")
    # What orjson read it writes back unchanged. What only the json module could read (NaN, an integer
    # beyond 64 bits) the json module writes back, NaN included, so Postgres refuses what it refused before.
    rows_json = (
        orjson.dumps(events).decode()
        if exact
        else json.dumps(events, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
    )
    return Readable(kind, events, rows_json, message)


def _readables(batch: Batch) -> tuple[list[Readable], list[DeadLetterDraft]]:
    """The batch's messages that hold rows, and a dead letter for each message that is not `{"kind": …,
    "events": [{…}]}` of a known kind."""
    readables: list[Readable] = []
    unreadable: list[DeadLetterDraft] = []
    for messages in batch.values():
        for message in messages:
            try:
                readable = _read(message)
            except (ValueError, KeyError, TypeError) as error:
                reason = f"unreadable message: {type(error).__name__}: {error}"
                unreadable.append(_letter(message, UNREADABLE, _escaped(message.value) or "", reason))
                continue
            if readable.rows:
                readables.append(readable)
    return readables, unreadable


def _refused_rows(error: DBAPIError) -> bool:
    """Whether Postgres (or the driver, encoding a parameter) refused the rows themselves, so the same
    rows can never be stored; a lost connection or a server failure is not that."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in ROW_LEVEL_SQLSTATE_CLASSES


def _describe(error: DBAPIError) -> str:
    """The SQLSTATE and the first line of Postgres's (or the driver's) message, without the SQL."""
    message = str(error.orig).strip().splitlines()
    return f"SQLSTATE {getattr(error.orig, 'sqlstate', '?')}: {message[0] if message else ''}"


async def _store(entries: Sequence[Entry]) -> list[DeadLetterDraft]:
    """Stores `entries` and returns those Postgres refused, found by halving; raises on any other failure.

    Each half commits on its own: a crash in the middle redelivers the batch, whose stored rows then
    insert nothing (event ids), so no row is lost or doubled."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_kind.setdefault(entry.kind, []).append(entry.row)
    try:
        async with transaction() as db:
            for kind, rows in by_kind.items():
                await store_events(db, kind, rows)
        return []
    except DBAPIError as error:
        if not _refused_rows(error):
            raise
        if len(entries) == 1:
            [entry] = entries
            payload = json.dumps(entry.row, ensure_ascii=True, allow_nan=True)
            return [_letter(entry.message, entry.position, payload, _describe(error))]
    middle = len(entries) // 2
    return await _store(entries[:middle]) + await _store(entries[middle:])


async def _store_readables(readables: Sequence[Readable]) -> list[DeadLetterDraft]:
    """Stores the messages' rows with one statement per kind, passed as JSON; when Postgres refuses rows
    of them, stores them as column arrays through `_store`, which finds and returns the refused ones."""
    by_kind: dict[str, list[str]] = {}
    for readable in readables:
        # Each message's rows without their brackets, so that a kind's rows join into one array.
        by_kind.setdefault(readable.kind, []).append(readable.rows_json[1:-1])
    try:
        async with transaction() as db:
            for kind, rows in by_kind.items():
                await store_events_json(db, kind, f"[{','.join(rows)}]")
        return []
    except DBAPIError as error:
        if not _refused_rows(error):
            raise
    return await _store([entry for readable in readables for entry in readable.entries()])


class Drain:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        *,
        max_records: int = MAX_BATCH_RECORDS,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.group_id = group_id
        self.max_records = max_records
        self.rows_total = 0
        # Time spent writing and committing; rows_total / busy_seconds is what the drain can sustain.
        self.busy_seconds = 0.0
        self._stopping = asyncio.Event()

    @classmethod
    def from_settings(cls) -> "Drain":
        settings = get_settings()
        return cls(
            settings.kafka_bootstrap_servers, settings.kafka_activity_topic, settings.kafka_consumer_group
        )

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Drains until stopped; an unreachable Kafka is waited for, not given up on."""
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._consume()
                return
            except Exception:
                # Whatever went wrong (usually Kafka unreachable), a worker without its drain would
                # look healthy while logs pile up; so it keeps trying.
                logger.exception("activity drain stopped; restarting in %.1fs", backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _pause(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _consume(self) -> None:
        await ensure_topic(self.bootstrap_servers, self.topic)
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        )
        await consumer.start()
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=self.max_records)
                if batch:
                    await self._process(consumer, batch)
        finally:
            await consumer.stop()

    async def _process(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        readables, unreadable = _readables(batch)
        rows = sum(len(readable.rows) for readable in readables)
        started = time.monotonic()
        if not await self._write(readables, unreadable):
            return
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items()}
        try:
            await consumer.commit(offsets)
        except CommitFailedError:
            # The partitions moved to another member during the write; it redelivers, we inserted once.
            logger.info("offsets not committed after a rebalance; the batch will be redelivered")
        elapsed = time.monotonic() - started
        self.rows_total += rows
        self.busy_seconds += elapsed
        await self._report(rows, elapsed)

    async def _write(self, readables: list[Readable], unreadable: list[DeadLetterDraft]) -> bool:
        """Stores the batch, its refused rows as dead letters, retrying until both are stored; False if
        stopped first (nothing committed that a redelivery would not repeat harmlessly)."""
        backoff = 0.5
        while True:
            try:
                letters = unreadable + (await _store_readables(readables) if readables else [])
                if letters:
                    async with transaction() as db:
                        new = await store_dead_letters(db, letters)
                    DEAD_LETTERS.inc(new)
                    for letter in letters:
                        logger.error(
                            "dead letter from %s:%s offset %s row %s: %s",
                            letter.topic,
                            letter.partition,
                            letter.offset,
                            letter.position,
                            letter.error,
                        )
                return True
            except (SQLAlchemyError, OSError):
                logger.exception("writing an activity batch failed; retrying in %.1fs", backoff)
            await self._pause(backoff)
            if self._stopping.is_set():
                return False
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _report(self, count: int, elapsed: float) -> None:
        rate = count / elapsed if elapsed > 0 else 0.0
        try:
            # redis-py types its asyncio commands as returning "Awaitable[int] | int".
            await redis().hset(  # type: ignore[misc]  # redis-py types its commands as sync-or-async
                DRAIN_STATS_KEY,
                mapping={
                    "rows_total": self.rows_total,
                    "busy_seconds": round(self.busy_seconds, 3),
                    "rows_per_second": round(rate, 1),
                    "at": time.time(),
                },
            )
        except RedisError:
            logger.info("could not report drain figures to Redis")
