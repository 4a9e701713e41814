"""The response cache's store and the content version its keys carry (schema/response_cache.py decides
which operations it may serve, and for whom).

Correctness rests on one counter in Redis, the content version. Every transaction that commits a write
to a table flagged with `core.db.feeds_cached_reads` bumps it before `transaction()` returns, so before
the mutation's response leaves; every entry is keyed by the version it was computed under, so a request
that starts after a write never finds an entry from before it. Entries live in each api process's
memory (a bounded LRU), with a time to live that also bounds how long a failed bump could serve stale
answers. The whole cache is off unless RESPONSE_CACHE is set.
"""

import time
from collections import OrderedDict
from collections.abc import Hashable

from core.redis import redis
from core.settings import get_settings

VERSION_KEY = "response-cache:content-version"


async def content_version() -> str:
    version: str | None = await redis().get(VERSION_KEY)
    if version is None:
        # Never back to a number used before (after a flush or a fresh Redis), whose entries may linger.
        await redis().set(VERSION_KEY, time.time_ns(), nx=True)
        version = await redis().get(VERSION_KEY)
    return version or "0"


async def bump_content_version() -> None:
    async with redis().pipeline(transaction=True) as pipe:
        pipe.set(VERSION_KEY, time.time_ns(), nx=True)
        pipe.incr(VERSION_KEY)
        await pipe.execute()


class ResponseStore:
    """A least-recently-used map with a time to live; single-threaded (one per event loop's process)."""

    def __init__(self, entries: int, ttl_seconds: float) -> None:
        self._entries = entries
        self._ttl = ttl_seconds
        self._items: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()

    def get(self, key: Hashable) -> object | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: object) -> None:
        self._items[key] = (time.monotonic() + self._ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self._entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_store: ResponseStore | None = None


def store() -> ResponseStore:
    global _store
    if _store is None:
        settings = get_settings()
        _store = ResponseStore(settings.response_cache_entries, settings.response_cache_seconds)
    return _store
