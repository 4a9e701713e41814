"""Sequenced streams and the throttled feed: the machinery live views are built on, domain-free.

A sequenced stream's events carry a `seq` that grows by exactly one per event. It is allocated and
published by one Lua script, so the order on the channel is the order of the numbers even when several
api processes publish at once. A subscriber reads the counter after subscribing and before reading its
snapshot; every queued event numbered at or below the snapshot's `seq` is already in it.
"""

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from broadcast.events import BroadcastEvent, UnknownEvent, decode
from broadcast.hub import Event, Resubscribe, Subscriber, hub
from core.redis import redis
from models.base import utcnow

logger = logging.getLogger(__name__)

KEY_TTL_SECONDS = 2 * 24 * 3600

# INCR and PUBLISH in one atomic step; the payload is a JSON object, so the seq is spliced in at its front.
_PUBLISH_SEQUENCED = """
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[1], '{"seq":' .. seq .. ',' .. string.sub(ARGV[2], 2))
return seq
"""


@dataclass(frozen=True)
class SequencedStream:
    """A channel whose events are numbered 1, 2, 3, … by a Redis counter."""

    channel: str
    counter: str

    async def publish(self, event: BroadcastEvent) -> int:
        payload = event.model_copy(update={"at": utcnow()}).payload()
        del payload["seq"]  # spliced in by the script; a second "seq" key would override it
        seq = await redis().eval(  # type: ignore[misc]  # redis-py types eval as sync-or-async
            _PUBLISH_SEQUENCED, 1, self.counter, self.channel, json.dumps(payload), str(KEY_TTL_SECONDS)
        )
        return int(seq)

    async def current(self) -> int:
        return int(await redis().get(self.counter) or 0)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[tuple[int, AsyncIterator[BroadcastEvent]]]:
        """The `seq` a snapshot taken now covers, and the (decoded) events after it."""
        async with hub().subscribe(self.channel) as subscriber:
            seq = await self.current()
            yield seq, _after(subscriber, seq)


async def _after(subscriber: Subscriber, seq: int) -> AsyncIterator[BroadcastEvent]:
    async for message in subscriber:
        event = _decode_shared(message)
        if event.seq is not None and event.seq > seq:
            yield event


# The hub hands one message object to every local subscriber of a channel; events are frozen, so the
# first subscriber's decoding serves the rest (a fan-out to a thousand phones validates once).
_DECODED_KEPT = 256
_decoded: OrderedDict[int, tuple[Event, BroadcastEvent]] = OrderedDict()


def _decode_shared(message: Event) -> BroadcastEvent:
    cached = _decoded.get(id(message))
    if cached is not None and cached[0] is message:
        return cached[1]
    event = decode(message)
    _decoded[id(message)] = (message, event)  # the message is kept, so its id is not reused meanwhile
    if len(_decoded) > _DECODED_KEPT:
        _decoded.popitem(last=False)
    return event


# The throttled feed: one computation per key and process, shared by every local subscriber.

T = TypeVar("T")


class _Latest(Generic[T]):
    """A one-slot mailbox: a reader that falls behind skips to the newest value."""

    def __init__(self) -> None:
        self._value: T | None = None
        self._ready = asyncio.Event()

    def put(self, value: T) -> None:
        self._value = value
        self._ready.set()

    async def get(self) -> T:
        await self._ready.wait()
        self._ready.clear()
        assert self._value is not None
        return self._value


class _Feed(Generic[T]):
    def __init__(
        self,
        channels: list[str],
        compute: Callable[[], Awaitable[T]],
        min_interval: float,
        refresh_interval: float,
    ) -> None:
        self.readers: set[_Latest[T]] = set()
        self.latest: T | None = None
        self._channels = channels
        self._compute = compute
        self._min_interval = min_interval
        self._refresh_interval = refresh_interval
        self._dirty = asyncio.Event()
        self._dirty.set()
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="throttled-feed")

    async def started(self) -> None:
        await self._ready.wait()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as watchers:
            subscribed = [asyncio.Event() for _ in self._channels]
            for channel, confirmed in zip(self._channels, subscribed, strict=True):
                watchers.create_task(self._watch(channel, confirmed))
            for confirmed in subscribed:
                await confirmed.wait()
            self._ready.set()
            while True:
                with contextlib.suppress(TimeoutError):
                    # Also on a timer: presence lapses and "stuck" thresholds pass without any event.
                    await asyncio.wait_for(self._dirty.wait(), self._refresh_interval)
                self._dirty.clear()
                await self._publish()
                await asyncio.sleep(self._min_interval)

    async def _publish(self) -> None:
        try:
            value = await self._compute()
        except Exception:
            logger.exception("feed computation failed")
            return
        if value != self.latest:
            self.latest = value
            for reader in self.readers:
                reader.put(value)

    async def _watch(self, channel: str, subscribed: asyncio.Event) -> None:
        while True:
            try:
                async with hub().subscribe(channel) as subscriber:
                    subscribed.set()
                    async for _ in subscriber:
                        self._dirty.set()
                return
            except Resubscribe:
                # Whatever happened while events were missed shows in the next computation.
                self._dirty.set()


_feeds: dict[Hashable, _Feed[Any]] = {}


@asynccontextmanager
async def throttled_feed(
    key: Hashable,
    channels: list[str],
    compute: Callable[[], Awaitable[T]],
    *,
    min_interval: float = 0.5,
    refresh_interval: float = 5.0,
) -> AsyncIterator[Callable[[], Awaitable[T]]]:
    """Values of `compute`, recomputed when any of `channels` has an event, at most once per
    `min_interval` for all of this process's subscribers of `key`, and only passed on when they change.

    Yields the function that awaits the next value; the first call answers with the current one.
    """
    existing: _Feed[T] | None = _feeds.get(key)
    feed = existing if existing is not None else _Feed(channels, compute, min_interval, refresh_interval)
    _feeds[key] = feed
    reader: _Latest[T] = _Latest()
    feed.readers.add(reader)
    try:
        await feed.started()
        if feed.latest is not None:
            reader.put(feed.latest)
        yield reader.get
    finally:
        feed.readers.discard(reader)
        if not feed.readers and _feeds.get(key) is feed:
            del _feeds[key]
            await feed.stop()


E = TypeVar("E", bound=BroadcastEvent)


async def events_of(channel: str, event_type: type[E]) -> AsyncIterator[E]:
    """Every `event_type` published on `channel`, for a stream without a snapshot (a user's own feed).

    After a Resubscribe it subscribes again and goes on: what it missed meanwhile is in the list query
    the stream stands beside. Any other type on the channel is a bug, and raises UnknownEvent.
    """
    while True:
        try:
            async with hub().subscribe(channel) as messages:
                async for message in messages:
                    event = decode(message)
                    if not isinstance(event, event_type):
                        raise UnknownEvent(
                            f"{event.type_name} on {channel}, which carries {event_type.__name__}"
                        )
                    yield event
            return
        except Resubscribe:
            continue
