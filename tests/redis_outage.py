"""A Redis of a test's own that can be stopped and started again on its port, for outage tests."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devstack import EmbeddedRedis, server

OUTAGE_SECONDS = 7.0


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    redis_server = EmbeddedRedis(tmp_path / "redis", persistent=False)
    redis_server.start()
    try:
        yield redis_server
    finally:
        redis_server.stop()


def redis_url(redis_server: EmbeddedRedis) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0"


async def outage(redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch, during: Any = None) -> Any:
    """Stops Redis for OUTAGE_SECONDS, runs `during()` meanwhile, and starts it again on the same port."""
    port = redis_server.port
    redis_server.stop()
    seen = await during() if during is not None else None
    await asyncio.sleep(OUTAGE_SECONDS)
    monkeypatch.setattr(server, "free_port", lambda: port)
    redis_server.start()
    return seen


async def until(condition: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - polling another process's state
            await asyncio.sleep(0.05)
