"""The process's pub/sub hub.

Every api process holds one Redis pub/sub connection. A channel is subscribed on Redis once, however
many local subscribers want it, and each message is fanned out to bounded per-subscriber queues.

A stream that may have missed events ends with `Resubscribe`, the one signal the resolver layer handles
to converge: subscribe again and send the client a fresh snapshot (a stream without snapshots, such as
notifications, simply subscribes again). It is raised, from the subscriber's `async for`, in two cases:

- `SubscriberTooSlow`: the subscriber fell behind by more than its queue holds and was dropped, rather
  than slowing everyone else down;
- `HubReconnected`: the hub lost its Redis connection (an outage, a failover) and got it back. Whatever
  was published meanwhile never reached this process, so every stream that was open is ended this way,
  once Redis answers again, so that its resubscription succeeds at once.

While Redis is away the hub retries every RECONNECT_SECONDS; subscribing during the outage fails with
Redis's ConnectionError.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.redis import redis

logger = logging.getLogger(__name__)

Event = dict[str, Any]
DEFAULT_QUEUE_SIZE = 256
RECONNECT_SECONDS = 0.5
_CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class Resubscribe(Exception):
    """The stream may have missed events: subscribe again and send a fresh snapshot."""


class SubscriberTooSlow(Resubscribe):
    """The subscriber fell behind by more than its queue holds and was dropped."""


class HubReconnected(Resubscribe):
    """The hub's Redis connection was lost and is back; events published meanwhile were missed."""


class _Closed:
    """The marker that ends a subscriber's stream, with the signal to raise (None: a normal end)."""

    def __init__(self, signal: type[Resubscribe] | None) -> None:
        self.signal = signal


class Subscriber:
    def __init__(self, channel: str, queue_size: int) -> None:
        self.channel = channel
        self._queue: asyncio.Queue[Event | _Closed] = asyncio.Queue(maxsize=queue_size)

    def offer(self, event: Event) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def close(self, signal: type[Resubscribe] | None = None) -> None:
        # Room is always made for the close marker so a waiting reader wakes up.
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_Closed(signal))

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if isinstance(event, _Closed):
                if event.signal is not None:
                    raise event.signal(self.channel)
                return
            yield event


class Hub:
    def __init__(self, client: Redis, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._redis = client
        self._queue_size = queue_size
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._has_channels = asyncio.Event()
        self.reconnections = 0

    @property
    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    @property
    def channel_count(self) -> int:
        return len(self._subscribers)

    def local_subscribers(self, channel: str) -> int:
        """How many of this process's streams listen on `channel`."""
        return len(self._subscribers.get(channel, ()))

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        self._reader = asyncio.create_task(self._read(), name="broadcast-hub-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.close()
        self._subscribers.clear()
        await self._close_pubsub()
        self._reader = None

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with suppress(*_CONNECTION_ERRORS):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        """Yields once Redis has confirmed the subscription, so no later publish can be missed."""
        subscriber = Subscriber(channel, self._queue_size)
        async with self._lock:
            first = channel not in self._subscribers
            self._subscribers.setdefault(channel, set()).add(subscriber)
            if first:
                confirmed = self._confirmed[channel] = asyncio.Event()
                assert self._pubsub is not None, "hub not started"
                try:
                    await self._pubsub.subscribe(channel)
                except BaseException:
                    self._subscribers.pop(channel, None)
                    self._confirmed.pop(channel, None)
                    raise
                self._has_channels.set()
            else:
                confirmed = self._confirmed[channel]
        try:
            await asyncio.wait_for(confirmed.wait(), timeout=10)
            yield subscriber
        finally:
            await self._leave(subscriber)

    async def _leave(self, subscriber: Subscriber) -> None:
        async with self._lock:
            subscribers = self._subscribers.get(subscriber.channel)
            if subscribers is None:
                return
            # After a reconnection the set may be a fresh one, without this subscriber: never empty then.
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[subscriber.channel]
                self._confirmed.pop(subscriber.channel, None)
                if self._pubsub is not None:
                    with suppress(*_CONNECTION_ERRORS):
                        await self._pubsub.unsubscribe(subscriber.channel)

    async def _read(self) -> None:
        while True:
            await self._has_channels.wait()
            assert self._pubsub is not None
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except _CONNECTION_ERRORS:
                await self._reconnect()
                continue
            except RuntimeError:
                # Raised by redis-py while no channel is subscribed (every subscriber left).
                self._has_channels.clear()
                continue
            if message is not None:
                self._dispatch(message)

    async def _reconnect(self) -> None:
        """Waits for Redis to answer again, then starts over on a fresh pub/sub connection and ends every
        open stream with HubReconnected."""
        logger.warning("pub/sub connection to Redis lost; reconnecting")
        while True:
            await asyncio.sleep(RECONNECT_SECONDS)
            try:
                await self._redis.ping()
            except _CONNECTION_ERRORS:
                continue
            break
        async with self._lock:
            await self._close_pubsub()
            self._pubsub = self._redis.pubsub()
            interrupted = [subscriber for subs in self._subscribers.values() for subscriber in subs]
            self._subscribers.clear()
            self._confirmed.clear()
            self._has_channels.clear()
            for subscriber in interrupted:
                subscriber.close(HubReconnected)
        self.reconnections += 1
        logger.warning("pub/sub connection to Redis is back; %d streams resubscribe", len(interrupted))

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if message["type"] == "subscribe":
            if (confirmed := self._confirmed.get(channel)) is not None:
                confirmed.set()
            return
        if message["type"] != "message":
            return
        event: Event = json.loads(message["data"])
        for subscriber in list(self._subscribers.get(channel, ())):
            if not subscriber.offer(event):
                logger.warning("dropping slow subscriber on %s", channel)
                subscriber.close(SubscriberTooSlow)
                self._subscribers[channel].discard(subscriber)


async def publish(channel: str, event: Event) -> None:
    await redis().publish(channel, json.dumps(event, default=str))


_hub: Hub | None = None


async def start_hub() -> Hub:
    global _hub
    if _hub is None:
        _hub = Hub(redis())
        await _hub.start()
    return _hub


def hub() -> Hub:
    assert _hub is not None, "the hub starts with the app"
    return _hub


async def stop_hub() -> None:
    global _hub
    if _hub is not None:
        await _hub.stop()
    _hub = None
