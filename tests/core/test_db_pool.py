"""Pooled connections are pinged before use only after sitting idle, a lost one is replaced, and a burst
waits for the pool's connections instead of opening more."""

import asyncio
from collections import Counter

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.db import engine, ping_when_idle, read_connection
from core.settings import get_settings


async def _backend_pid(pooled: AsyncEngine) -> int:
    async with pooled.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pid: int) -> None:
    async with engine().connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_connection_lost_while_idle_is_replaced_at_checkout() -> None:
    # Given a pool that pings connections idle for any time, holding one connection
    pooled = create_async_engine(get_settings().database_url, pool_size=1, max_overflow=0)
    ping_when_idle(pooled, idle_seconds=0)
    try:
        lost = await _backend_pid(pooled)
        # When Postgres drops that connection while it sits in the pool
        await _terminate(lost)
        # Then the next checkout gets a working connection to another backend
        assert await _backend_pid(pooled) != lost
    finally:
        await pooled.dispose()


async def test_a_connection_checked_in_moments_ago_is_not_pinged() -> None:
    # Given a pool that pings only connections idle for an hour, counting its pings
    pooled = create_async_engine(get_settings().database_url, pool_size=1, max_overflow=0)
    dialect = pooled.sync_engine.dialect
    pings: list[DBAPIConnection] = []
    ping = dialect.do_ping

    def counted(connection: DBAPIConnection) -> bool:
        pings.append(connection)
        return ping(connection)

    dialect.do_ping = counted  # type: ignore[method-assign,assignment]  # counting the pool's pings
    ping_when_idle(pooled, idle_seconds=3600)
    try:
        # When its one connection is checked out three times in a row
        pids = {await _backend_pid(pooled) for _ in range(3)}
        # Then it was the same connection each time, and never pinged
        assert len(pids) == 1
        assert pings == []
    finally:
        await pooled.dispose()


async def test_a_burst_beyond_the_pool_waits_for_its_connections_and_opens_no_more() -> None:
    # Given the app's pool, counting the connections it opens and closes
    pool = engine().sync_engine.pool
    seen: Counter[str] = Counter()

    def opened(*_: object) -> None:
        seen["opened"] += 1

    def closed(*_: object) -> None:
        seen["closed"] += 1

    event.listen(pool, "connect", opened)
    event.listen(pool, "close", closed)
    try:
        # When three bursts of twice as many reads as it holds run one after another
        async def read() -> None:
            async with read_connection() as db:
                await db.driver.fetchval("SELECT pg_sleep(0.01)")

        for _ in range(3):
            await asyncio.gather(*(read() for _ in range(2 * pool.size())))
    finally:
        event.remove(pool, "connect", opened)
        event.remove(pool, "close", closed)
    # Then it never held more than its size, and closed none of them between bursts
    assert seen["opened"] <= pool.size()
    assert seen["closed"] == 0
