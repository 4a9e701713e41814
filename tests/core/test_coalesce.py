"""Coalesced loads: concurrent callers of one key share a load, and none is served by a load that started
before it asked."""

import asyncio

import pytest

from core.coalesce import Coalesced


class Loads:
    """A load that records each batch and waits to be released, so a test decides when it finishes."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, key: str, arguments: list[int]) -> list[str]:
        self.batches.append((key, list(arguments)))
        self.started.set()
        await self.release.wait()
        if key == "broken":
            raise LookupError(key)
        return [f"{key}:{argument}:{len(self.batches)}" for argument in arguments]


async def test_concurrent_callers_of_one_key_share_one_load() -> None:
    # Given three callers of one key and one of another, asking in the same turn of the loop
    loads = Loads()
    coalesced = Coalesced(loads)
    loads.release.set()
    # When they await their results
    results = await asyncio.gather(coalesced("a", 1), coalesced("a", 2), coalesced("b", 3), coalesced("a", 4))
    # Then each key was loaded once, for all of its callers, and each caller got its own result
    assert loads.batches == [("a", [1, 2, 4]), ("b", [3])]
    assert results == ["a:1:1", "a:2:1", "b:3:2", "a:4:1"]


async def test_a_caller_arriving_during_a_load_waits_for_the_next_one() -> None:
    # Given a load of one key under way
    loads = Loads()
    coalesced = Coalesced(loads)
    first = asyncio.create_task(coalesced("a", 1))
    await loads.started.wait()
    # When two more callers ask before it finishes
    later = [asyncio.create_task(coalesced("a", n)) for n in (2, 3)]
    await asyncio.sleep(0)
    assert loads.batches == [("a", [1])]
    loads.release.set()
    # Then they share a second load, which started after they asked
    assert await first == "a:1:1"
    assert await asyncio.gather(*later) == ["a:2:2", "a:3:2"]
    assert loads.batches == [("a", [1]), ("a", [2, 3])]


async def test_a_failed_load_fails_each_of_its_callers_and_the_next_load_runs() -> None:
    loads = Loads()
    coalesced = Coalesced(loads)
    loads.release.set()
    outcomes = await asyncio.gather(coalesced("broken", 1), coalesced("broken", 2), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [LookupError, LookupError]
    assert await coalesced("a", 3) == "a:3:2"


async def test_a_cancelled_caller_leaves_the_others_served() -> None:
    loads = Loads()
    coalesced = Coalesced(loads)
    gone, staying = asyncio.create_task(coalesced("a", 1)), asyncio.create_task(coalesced("a", 2))
    await loads.started.wait()
    gone.cancel()
    loads.release.set()
    assert await staying == "a:2:1"
    with pytest.raises(asyncio.CancelledError):
        await gone
