"""Presence leases held by many subscriptions of one process: taken, refreshed and given back together."""

import asyncio
import uuid

import pytest

from broadcast import presence
from core.redis import redis

CLASS_SIZE = 40


async def _evals() -> int:
    stats = await redis().info("commandstats")
    return int(stats.get("cmdstat_eval", {}).get("calls", 0))


class Phones:
    """Subscriptions held each in a task of its own, as phones are, and closed together."""

    def __init__(self, session_id: uuid.UUID, participant_ids: list[uuid.UUID]) -> None:
        self._close = asyncio.Event()
        taken = [asyncio.Event() for _ in participant_ids]
        self._taken = taken
        self._tasks = [
            asyncio.create_task(self._hold(session_id, pid, event))
            for pid, event in zip(participant_ids, taken, strict=True)
        ]

    async def _hold(self, session_id: uuid.UUID, participant_id: uuid.UUID, taken: asyncio.Event) -> None:
        async with presence.presence_lease(session_id, participant_id):
            taken.set()
            await self._close.wait()

    async def opened(self) -> None:
        await asyncio.gather(*(event.wait() for event in self._taken))

    async def close(self) -> None:
        self._close.set()
        await asyncio.gather(*self._tasks)


async def test_a_class_subscribing_at_once_takes_and_gives_back_its_leases_in_a_round_trip_each() -> None:
    # Given a class of participants of one session
    session_id = uuid.uuid4()
    participant_ids = [uuid.uuid4() for _ in range(CLASS_SIZE)]
    before = await _evals()
    # When all of them open their subscriptions at once
    phones = Phones(session_id, participant_ids)
    await phones.opened()
    # Then every one of them is online, written in one round trip
    assert (await presence.presence(session_id)).online == frozenset(participant_ids)
    assert await _evals() - before == 1
    # And closing them all at once gives the leases back in one round trip: everyone is offline
    taken = await _evals()
    await phones.close()
    assert await _evals() - taken == 1
    after = await presence.presence(session_id)
    assert after.online == frozenset()
    assert set(after.last_seen) == set(participant_ids)


async def test_a_closed_subscription_goes_offline_while_the_others_stay_refreshed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(presence, "LEASE_REFRESH_SECONDS", 0.05)
    session_id = uuid.uuid4()
    staying, leaving = uuid.uuid4(), uuid.uuid4()
    phones = Phones(session_id, [staying])
    await phones.opened()
    async with presence.presence_lease(session_id, leaving):
        # Given two open subscriptions whose leases have been refreshed together
        await _refreshed(session_id, staying)
        assert (await presence.presence(session_id)).online == {staying, leaving}
    # When one closes, Then it is offline at once and stays so through the refreshes that follow
    assert (await presence.presence(session_id)).online == {staying}
    await _refreshed(session_id, staying)
    assert (await presence.presence(session_id)).online == {staying}
    await phones.close()
    assert (await presence.presence(session_id)).online == frozenset()


async def _refreshed(session_id: uuid.UUID, participant_id: uuid.UUID) -> None:
    """Returns once the participant's lease has been written again by a refresh."""
    _, leases, _ = presence._presence_keys(session_id)

    async def score() -> float:
        members = await redis().zrange(leases, 0, -1, withscores=True)
        return float(max(s for member, s in members if member.startswith(str(participant_id))))

    first = await score()
    async with asyncio.timeout(5):
        # Polled: a refresh is not announced.
        while await score() == first:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
