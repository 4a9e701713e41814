"""Kafka for activity logs: the topic, the wire format, the producer with its fallback, and lag.

Wire format: one JSON message per (part of a) mutation batch, `{"kind": "...", "events": [...]}`, keyed
by the recording or session so that a key's messages stay in order on one partition. A batch larger than
`MAX_MESSAGE_BYTES` is split into several messages with the same key. Events are JSON-safe dicts whose
keys are the table's column names; the consumer writes them with the same statement the fallback uses.

The producer starts on first use and sends with acks=all; `send` answers True only once the broker has
acknowledged every message. When Kafka cannot be reached it answers False at once (the caller writes to
Postgres instead), and for `retry_interval` seconds it does not try Kafka again, so an outage costs the
api one timeout, not one per request. The next attempt after that goes back to producing.
"""

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from prometheus_client import Counter, Gauge

from core import jsonio
from core.redis import redis
from core.settings import get_settings

logger = logging.getLogger(__name__)

ACTIVITY_TOPIC_PARTITIONS = 6
MAX_MESSAGE_BYTES = 256 * 1024
SEND_TIMEOUT_SECONDS = 5.0
RETRY_INTERVAL_SECONDS = 5.0
LAG_TIMEOUT_SECONDS = 5.0
# The worker reports its drain figures here; the api's /metrics reads them (they are separate processes).
DRAIN_STATS_KEY = "kafka:activity-drain:stats"

PRODUCED_EVENTS = Counter(
    "studymate_activity_produced_events_total", "Activity and recording events acknowledged by Kafka"
)
FALLBACK_BATCHES = Counter(
    "studymate_activity_fallback_batches_total", "Event batches written straight to Postgres (Kafka down)"
)
FALLBACK_EVENTS = Counter(
    "studymate_activity_fallback_events_total", "Events written straight to Postgres (Kafka down)"
)
KAFKA_DEGRADED = Gauge("studymate_kafka_degraded", "1 while this api process cannot produce to Kafka")
CONSUMER_LAG = Gauge(
    "studymate_kafka_consumer_lag", "Messages of the activity topic not yet drained", ["partition"]
)
DEAD_LETTERS = Counter(
    "studymate_activity_dead_letters_total", "Activity rows the drain could not store, kept as dead letters"
)
DEAD_LETTER_ROWS = Gauge("studymate_activity_dead_letter_rows", "Rows in the activity dead-letter table")
DRAIN_ROWS_TOTAL = Gauge("studymate_activity_drain_rows_total", "Rows the worker's drain has written")
DRAIN_ROWS_PER_SECOND = Gauge(
    "studymate_activity_drain_rows_per_second", "Rows per second of the worker's last drained batch"
)


def _json(value: object) -> bytes:
    """Compact UTF-8 JSON. orjson writes a whole batch in a fraction of a millisecond, where the json
    module took several; json writes what orjson cannot (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def encode_messages(kind: str, events: Sequence[dict[str, Any]]) -> list[bytes]:
    """The batch as one or more messages of at most MAX_MESSAGE_BYTES (a single huge event goes alone).

    Events hold JSON values with finite numbers, as validated rows do (orjson would write NaN as null)."""
    whole = _json({"kind": kind, "events": events})
    if len(whole) <= MAX_MESSAGE_BYTES:
        return [whole]
    head = b'{"kind":' + _json(kind) + b',"events":['
    messages: list[bytes] = []
    chunk: list[bytes] = []
    size = len(head) + 2
    for event in events:
        encoded = _json(event)
        if chunk and size + len(encoded) + 1 > MAX_MESSAGE_BYTES:
            messages.append(head + b",".join(chunk) + b"]}")
            chunk, size = [], len(head) + 2
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        messages.append(head + b",".join(chunk) + b"]}")
    return messages


def decode_message(value: bytes) -> tuple[str, list[dict[str, Any]], bool]:
    """The message's kind and events, and whether orjson read them (`core.jsonio.read`)."""
    payload, exact = jsonio.read(value)
    return payload["kind"], payload["events"], exact


async def ensure_topic(bootstrap_servers: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            # Another process may create it between our look and our create.
            with suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, ACTIVITY_TOPIC_PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()


@dataclass(frozen=True)
class ProducerStatus:
    degraded: bool
    reason: str | None
    since: datetime | None


class ActivityProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        send_timeout: float = SEND_TIMEOUT_SECONDS,
        retry_interval: float = RETRY_INTERVAL_SECONDS,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.send_timeout = send_timeout
        self.retry_interval = retry_interval
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self._degraded_since: datetime | None = None
        self._reason: str | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def status(self) -> ProducerStatus:
        return ProducerStatus(self._degraded_since is not None, self._reason, self._degraded_since)

    async def send(self, key: str, messages: list[bytes], event_count: int) -> bool:
        """True once Kafka acknowledged every message (acks=all); False when Kafka is unavailable."""
        producer = await self._ready()
        if producer is None:
            return False
        try:
            async with asyncio.timeout(self.send_timeout):
                try:
                    await self._send_all(producer, key, messages)
                except KafkaError as error:
                    if isinstance(error, KafkaConnectionError):
                        raise
                    # A broker that just came back may refuse its first produce with an unknown
                    # error; a resend is harmless, since the drain ignores event ids it already has.
                    await asyncio.sleep(0.1)
                    await self._send_all(producer, key, messages)
        except (KafkaError, OSError, TimeoutError) as error:
            self._fail(error)
            return False
        PRODUCED_EVENTS.inc(event_count)
        if self._degraded_since is not None:
            logger.info("producing to Kafka again")
            self._degraded_since = None
            self._reason = None
            KAFKA_DEGRADED.set(0)
        return True

    async def _send_all(self, producer: AIOKafkaProducer, key: str, messages: list[bytes]) -> None:
        futures = [await producer.send(self.topic, message, key=key.encode()) for message in messages]
        await asyncio.gather(*futures)

    async def _ready(self) -> AIOKafkaProducer | None:
        if self._producer is not None or time.monotonic() < self._retry_at:
            return self._producer
        async with self._lock:
            if self._producer is None and time.monotonic() >= self._retry_at:
                try:
                    async with asyncio.timeout(self.send_timeout):
                        self._producer = await self._start()
                except (KafkaError, OSError, TimeoutError) as error:
                    self._fail(error)
        return self._producer

    async def _start(self) -> AIOKafkaProducer:
        await ensure_topic(self.bootstrap_servers, self.topic)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            request_timeout_ms=int(self.send_timeout * 1000),
            max_request_size=4 * MAX_MESSAGE_BYTES,
            max_batch_size=2 * MAX_MESSAGE_BYTES,
            linger_ms=1,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    def _fail(self, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if self._degraded_since is None:
            logger.warning("Kafka unavailable, writing activity logs to Postgres: %s", reason)
            self._degraded_since = datetime.now().astimezone()
        self._reason = reason
        self._retry_at = time.monotonic() + self.retry_interval
        KAFKA_DEGRADED.set(1)
        broken, self._producer = self._producer, None
        if broken is not None:
            # Stopping flushes to a broker that may be gone; it must not hold up the request.
            task = asyncio.create_task(self._stop(broken))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _stop(self, producer: AIOKafkaProducer) -> None:
        try:
            async with asyncio.timeout(self.send_timeout):
                await producer.stop()
        except (KafkaError, OSError, TimeoutError):
            logger.info("a broken Kafka producer did not stop cleanly")

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._stop(producer)
        if self._closing:
            await asyncio.gather(*self._closing)


_producer: ActivityProducer | None = None


def activity_producer() -> ActivityProducer:
    global _producer
    if _producer is None:
        settings = get_settings()
        _producer = ActivityProducer(settings.kafka_bootstrap_servers, settings.kafka_activity_topic)
    return _producer


def producer_status() -> ProducerStatus:
    """This process's view of Kafka, for /health/ready (healthy until a send has failed)."""
    return activity_producer().status


def kafka_degraded_reason() -> str | None:
    """For `core.health.register_degraded_reason("kafka", …)`: why logs bypass Kafka, or None."""
    status = producer_status()
    if not status.degraded:
        return None
    return f"activity logs written straight to Postgres since {status.since:%H:%M:%S}: {status.reason}"


async def close_activity_producer() -> None:
    global _producer
    if _producer is not None:
        await _producer.close()
    _producer = None


async def _offsets(consumer: AIOKafkaConsumer, topic: str) -> dict[int, tuple[int, int]]:
    await consumer.topics()  # loads the cluster metadata that partitions_for_topic reads
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    ends = await consumer.end_offsets(tps) if tps else {}
    return {tp.partition: (ends[tp], await consumer.committed(tp) or 0) for tp in tps}


async def end_offsets(bootstrap_servers: str, topic: str, group_id: str) -> dict[int, tuple[int, int]]:
    """Per partition: (the topic's end offset, the group's committed offset)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group_id)
    async with asyncio.timeout(LAG_TIMEOUT_SECONDS):
        await consumer.start()
        try:
            return await _offsets(consumer, topic)
        finally:
            await consumer.stop()


async def wait_for_drain(timeout: float) -> bool:
    """Waits until the drain has committed every message that was on the topic when this was called.

    False on timeout or when Kafka cannot be asked (events then came through the fallback, or wait in
    Kafka for the drain).
    """
    settings = get_settings()
    topic = settings.kafka_activity_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=settings.kafka_consumer_group
    )
    try:
        async with asyncio.timeout(timeout):
            await consumer.start()
            try:
                ends = {p: end for p, (end, _) in (await _offsets(consumer, topic)).items()}
                while True:
                    behind = [
                        p
                        for p, end in ends.items()
                        if (await consumer.committed(TopicPartition(topic, p)) or 0) < end
                    ]
                    if not behind:
                        return True
                    await asyncio.sleep(0.1)
            finally:
                await consumer.stop()
    except (KafkaError, OSError, TimeoutError):
        return False


async def consumer_lag() -> dict[int, int]:
    settings = get_settings()
    offsets = await end_offsets(
        settings.kafka_bootstrap_servers, settings.kafka_activity_topic, settings.kafka_consumer_group
    )
    return {partition: max(end - committed, 0) for partition, (end, committed) in offsets.items()}


async def scrape_kafka_metrics() -> None:
    """Scrape hook for /metrics: consumer lag from Kafka, drain throughput as the worker reported it."""
    try:
        lag = await consumer_lag()
    except (KafkaError, OSError, TimeoutError):
        lag = {}
    CONSUMER_LAG.clear()
    for partition, behind in lag.items():
        CONSUMER_LAG.labels(partition=str(partition)).set(behind)
    # redis-py types its asyncio commands as returning "Awaitable[dict] | dict".
    stats = await redis().hgetall(DRAIN_STATS_KEY)  # type: ignore[misc]  # redis-py types its commands as sync-or-async
    if stats:
        DRAIN_ROWS_TOTAL.set(float(stats.get("rows_total", 0)))
        DRAIN_ROWS_PER_SECOND.set(float(stats.get("rows_per_second", 0)))
