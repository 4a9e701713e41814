"""Presence across a Redis outage, against a real redis-server that is stopped and started again."""

import asyncio
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

import core.redis
from broadcast import presence
from devstack.redis import EmbeddedRedis
from devstack.server import free_port


class RedisThatFails:
    """A real redis-server on a fixed port, so a client keeps pointing at it across a restart."""

    def __init__(self, data_dir: Path) -> None:
        self._server = EmbeddedRedis(data_dir, persistent=False)
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = self._server._command(self.port)
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


@contextmanager
def _server() -> Iterator[RedisThatFails]:
    with tempfile.TemporaryDirectory(prefix="studymate-redis-outage-") as data_dir:
        server = RedisThatFails(Path(data_dir))
        try:
            yield server
        finally:
            server.stop()


async def _ready(client: Redis) -> None:
    async with asyncio.timeout(10):
        while True:
            try:
                await client.ping()
                return
            except RedisConnectionError:  # still starting
                await asyncio.sleep(0.05)


@pytest.fixture
async def outage(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RedisThatFails]:
    """The process's Redis client pointed at a redis-server of this test's own, and quick refreshes."""
    with _server() as server:
        server.start()
        client = Redis.from_url(f"redis://127.0.0.1:{server.port}/0", decode_responses=True)
        await _ready(client)
        monkeypatch.setattr(core.redis, "_client", client)
        monkeypatch.setattr(presence, "LEASE_REFRESH_SECONDS", 0.2)
        monkeypatch.setattr(presence, "LEASE_RETRY_SECONDS", 0.1)
        try:
            yield server
        finally:
            await client.aclose()


async def _online_within(session_id: uuid.UUID, participant_id: uuid.UUID, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            # Polled: a refresh is not announced, there is no event to wait for.
            while participant_id not in (await presence.presence(session_id)).online:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        return False
    return True


async def test_a_lease_is_refreshed_again_after_redis_comes_back(outage: RedisThatFails) -> None:
    # Given a participant whose subscription holds a presence lease
    session_id, participant_id = uuid.uuid4(), uuid.uuid4()
    async with presence.presence_lease(session_id, participant_id):
        assert participant_id in (await presence.presence(session_id)).online
        # When Redis goes away for a while (several refreshes fail) and comes back empty
        outage.stop()
        await asyncio.sleep(1.0)
        outage.start()
        await _ready(core.redis.redis())
        # Then the still-open subscription's lease is written again: the participant is online
        assert await _online_within(session_id, participant_id, 3.0)
    # And closing the subscription releases the lease as usual
    assert participant_id not in (await presence.presence(session_id)).online


async def test_closing_a_subscription_while_redis_is_down_does_not_fail(outage: RedisThatFails) -> None:
    session_id, participant_id = uuid.uuid4(), uuid.uuid4()
    async with presence.presence_lease(session_id, participant_id):
        outage.stop()
    # The lease could not be released; unrefreshed, it lapses by itself within PRESENCE_SECONDS
