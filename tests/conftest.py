"""The test harness: real PostgreSQL, Redis and Kafka, and a real api server on a free port.

The components are the ones the environment points to (DATABASE_URL, REDIS_URL,
KAFKA_BOOTSTRAP_SERVERS) or embedded ones started here. Either way the tests get a database of their
own, built by the Alembic migrations, and every test starts from empty tables and an empty Redis.
"""

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from devstack import EmbeddedStack, free_port

if TYPE_CHECKING:
    from tests.client import GraphQLClient

# Fixtures shared by several test modules, kept beside their helpers.
pytest_plugins = ["tests.redis_outage"]

_stack: EmbeddedStack | None = None
_tmp: tempfile.TemporaryDirectory[str] | None = None
_server_url: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Runs before any application module is imported, so settings see the test environment."""
    global _stack, _tmp, _server_url
    if hasattr(config, "workerinput"):
        return
    _tmp = tempfile.TemporaryDirectory(prefix="studymate-test-")
    _stack = EmbeddedStack(Path(_tmp.name), persistent=False)
    urls = _stack.start()
    _server_url = urls["DATABASE_URL"]
    test_db = f"studymate_test_{uuid.uuid4().hex[:10]}"
    os.environ.update(urls)
    os.environ["DATABASE_URL"] = (
        make_url(_server_url).set(database=test_db).render_as_string(hide_password=False)
    )
    os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-hs256")
    os.environ["INSTRUCTOR_INVITE_CODE"] = "test-instructor"
    os.environ["ENVIRONMENT"] = "test"
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "TOGETHER_API_KEY", "STRIPE_SECRET_KEY"):
        os.environ.pop(key, None)

    from core.migrations import ensure_database, upgrade_head

    asyncio.run(ensure_database(os.environ["DATABASE_URL"]))
    upgrade_head(os.environ["DATABASE_URL"])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server_url is not None:
        asyncio.run(_drop_test_database(os.environ["DATABASE_URL"]))
    if _stack is not None:
        _stack.stop()
    if _tmp is not None:
        _tmp.cleanup()


async def _drop_test_database(url: str) -> None:
    import asyncpg

    target = make_url(url)
    server = target.set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    """Every test starts from empty tables and an empty Redis."""
    import models  # noqa: F401
    from core.db import engine
    from core.redis import redis

    # Reference data seeded by the migrations (plans) stays, as it does in every real database.
    tables = ", ".join(
        f'"{table.name}"' for table in SQLModel.metadata.sorted_tables if not table.info.get("seeded")
    )
    async with engine().begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await redis().flushdb()
    yield


@pytest.fixture(scope="session")
async def api_url() -> AsyncIterator[str]:
    """A real uvicorn server running the app, in the tests' event loop."""
    import uvicorn

    from app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collects every SQL statement the app sends while the block runs (for N+1 tests)."""
    from core.db import engine

    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sync_engine = engine().sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def gql(api_url: str) -> AsyncIterator["GraphQLClient"]:
    import httpx

    from tests.client import GraphQLClient

    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        yield GraphQLClient(http)


async def run_jobs() -> int:
    """Runs a real arq worker in burst mode until the queue is empty; returns the jobs it completed."""
    from arq.worker import Worker

    from workers.settings import worker_settings

    settings = worker_settings()
    worker = Worker(
        functions=settings["functions"],
        redis_settings=settings["redis_settings"],
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker.jobs_complete


async def wait_for_subscribers(channel: str, count: int = 1) -> None:
    """Waits until `count` connections (one per api process) are subscribed to `channel` on Redis."""
    from core.redis import redis

    async with asyncio.timeout(10):
        while True:
            [(_, subscribed)] = await redis().pubsub_numsub(channel)
            if subscribed >= count:
                return
            await asyncio.sleep(0.01)
