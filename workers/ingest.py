"""The Kafka drain: activity-log messages into Postgres, in batches, exactly once in effect.

A batch is whatever `getmany` returns. It is written in one transaction with one statement per kind
(see `resolvers.recordings.ingest.store_events`), and the Kafka offsets are committed only after that
transaction committed. A crash between the two redelivers the batch, which then inserts nothing new:
rows are keyed by the client's event id. A failed write is retried from the same offsets, never skipped.

`stop()` lets the batch in hand finish (written and committed) before the consumer leaves its group.
"""

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from core.db import transaction
from core.kafka import DRAIN_STATS_KEY, decode_message, ensure_topic
from core.redis import redis
from core.settings import get_settings
from resolvers.recordings.ingest import EVENT_KINDS, store_events

logger = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 2000
POLL_TIMEOUT_MS = 200
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 2000
MAX_BACKOFF_SECONDS = 10.0

Batch = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]


def _rows_by_kind(batch: Batch) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for tp, messages in batch.items():
        for message in messages:
            try:
                kind, events = decode_message(message.value or b"")
            except (ValueError, KeyError, TypeError):
                # Only our api produces here, after validation; a message nobody can read would block
                # its partition forever, so it is logged with its position and passed over.
                logger.error(
                    "unreadable activity message at %s:%s offset %s", tp.topic, tp.partition, message.offset
                )
                continue
            if kind not in EVENT_KINDS:
                logger.error("activity message of unknown kind %r at offset %s", kind, message.offset)
                continue
            rows.setdefault(kind, []).extend(events)
    return rows


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
        rows = _rows_by_kind(batch)
        count = sum(len(kind_rows) for kind_rows in rows.values())
        started = time.monotonic()
        if not await self._write(rows):
            return
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items()}
        try:
            await consumer.commit(offsets)
        except CommitFailedError:
            # The partitions moved to another member during the write; it redelivers, we inserted once.
            logger.info("offsets not committed after a rebalance; the batch will be redelivered")
        elapsed = time.monotonic() - started
        self.rows_total += count
        self.busy_seconds += elapsed
        await self._report(count, elapsed)

    async def _write(self, rows: dict[str, list[dict[str, Any]]]) -> bool:
        """Writes the batch, retrying until it is stored; False if stopped first (nothing committed)."""
        backoff = 0.5
        while True:
            try:
                async with transaction() as db:
                    for kind, kind_rows in rows.items():
                        await store_events(db, kind, kind_rows)
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
            await redis().hset(  # type: ignore[misc]
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
