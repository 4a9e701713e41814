"""The process's pub/sub hub.

Every api process holds one Redis pub/sub connection. A channel is subscribed on Redis once, however
many local subscribers want it, and each message is fanned out to bounded per-subscriber queues. A
subscriber whose queue is full is dropped (its stream ends with `SubscriberTooSlow`, the client
re-subscribes and gets a fresh snapshot) rather than slowing everyone else down.
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

from core.redis import redis

logger = logging.getLogger(__name__)

Event = dict[str, Any]
DEFAULT_QUEUE_SIZE = 256
_CLOSED: Event = {"__closed__": True}


class SubscriberTooSlow(Exception):
    """The subscriber fell behind by more than its queue holds and was dropped."""


class Subscriber:
    def __init__(self, channel: str, queue_size: int) -> None:
        self.channel = channel
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = False

    def offer(self, event: Event) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True

    def close(self) -> None:
        # Room is always made for the close marker so a waiting reader wakes up.
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is _CLOSED:
                if self.overflowed:
                    raise SubscriberTooSlow(self.channel)
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
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        self._pubsub = None
        self._reader = None

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
                await self._pubsub.subscribe(channel)
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
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[subscriber.channel]
                self._confirmed.pop(subscriber.channel, None)
                if self._pubsub is not None:
                    with suppress(RedisConnectionError):
                        await self._pubsub.unsubscribe(subscriber.channel)

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            await self._has_channels.wait()
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except RedisConnectionError:
                logger.warning("pub/sub connection lost; reconnecting")
                await asyncio.sleep(0.5)
                continue
            except RuntimeError:
                # Raised by redis-py while no channel is subscribed (every subscriber left).
                self._has_channels.clear()
                continue
            if message is not None:
                self._dispatch(message)

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
                subscriber.close()
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
