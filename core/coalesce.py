"""Concurrent reads of one thing, coalesced into one load across requests.

A DataLoader batches within one request; thousands of phones subscribing to one live session at once ask
for the same rows in thousands of requests. `Coalesced` gathers the callers of one key that arrive while
nothing for that key is being loaded (within one turn of the event loop) or while an earlier load runs,
and loads for all of them at once. A caller is only ever served by a load that started after it called,
so what it gets is at least as new as what a load of its own would have read.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
A = TypeVar("A")
R = TypeVar("R")

# (key, the callers' arguments) -> one result per argument, in their order.
Load = Callable[[K, list[A]], Awaitable[list[R]]]


class _Batch(Generic[A, R]):
    def __init__(self) -> None:
        self.arguments: list[A] = []
        self.waiters: list[asyncio.Future[R]] = []


class Coalesced(Generic[K, A, R]):
    def __init__(self, load: Load[K, A, R]) -> None:
        self._load = load
        self._gathering: dict[K, _Batch[A, R]] = {}
        self._loading: dict[K, asyncio.Task[None]] = {}

    async def __call__(self, key: K, argument: A) -> R:
        loop = asyncio.get_running_loop()
        batch = self._gathering.get(key)
        if batch is None:
            batch = self._gathering[key] = _Batch()
            if key not in self._loading:
                loop.call_soon(self._start, key)
        waiter: asyncio.Future[R] = loop.create_future()
        batch.arguments.append(argument)
        batch.waiters.append(waiter)
        return await waiter

    def _start(self, key: K) -> None:
        batch = self._gathering.pop(key, None)
        if batch is not None:
            self._loading[key] = asyncio.create_task(self._run(key, batch), name="coalesced-load")

    async def _run(self, key: K, batch: _Batch[A, R]) -> None:
        try:
            results = await self._load(key, batch.arguments)
        except asyncio.CancelledError:
            for waiter in batch.waiters:
                waiter.cancel()
            raise
        except Exception as error:
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
        else:
            for waiter, result in zip(batch.waiters, results, strict=True):
                if not waiter.done():
                    waiter.set_result(result)
        finally:
            del self._loading[key]
            # Whoever came while this load ran needs one that starts after them.
            self._start(key)
