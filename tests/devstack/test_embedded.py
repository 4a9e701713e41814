"""The embedded servers are the real thing, and the stack starts only what the environment lacks."""

import asyncio
import os
import pwd
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.migrations import asyncpg_dsn, ensure_database
from devstack import EmbeddedKafka, EmbeddedPostgres, EmbeddedRedis, EmbeddedStack

ROOT = Path(__file__).resolve().parents[2]
STANDARD_PORTS = {5432, 6379, 9092}


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "postgres", durable=False)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kafka_servers() -> Iterator[str]:
    broker = EmbeddedKafka()
    try:
        yield broker.start()
    finally:
        broker.stop()


async def test_postgres_is_postgresql_18_on_a_free_port(postgres_url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        version = await connection.fetchval("SELECT version()")
        port = await connection.fetchval("SHOW port")
    finally:
        await connection.close()

    assert version.startswith("PostgreSQL 18.")
    assert int(port) not in STANDARD_PORTS
    assert postgres_url == f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"


async def test_ensure_database_creates_a_missing_database_once(postgres_url: str) -> None:
    name = f"ensure_{uuid.uuid4().hex[:8]}"
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"

    await ensure_database(url)
    await ensure_database(url)

    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        count = await connection.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
    finally:
        await connection.close()
    assert count == 1


async def test_postgres_keeps_its_data_when_the_previous_run_was_killed(tmp_path: Path) -> None:
    # Given a run that was SIGKILLed, leaving its postgres orphaned on the data directory
    data_dir = tmp_path / "postgres"
    killed_run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys, time; from pathlib import Path; from devstack import EmbeddedPostgres;"
        "print(EmbeddedPostgres(Path(sys.argv[1])).start(), flush=True); time.sleep(600)",
        str(data_dir),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert killed_run.stdout is not None
    first_url = (await killed_run.stdout.readline()).decode().strip()
    assert first_url, "the first run did not start postgres"
    connection = await asyncpg.connect(asyncpg_dsn(first_url))
    await connection.execute("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('before')")
    await connection.close()
    killed_run.kill()
    await killed_run.wait()
    orphan_pid = int((tmp_path / "postgres.pid").read_text())

    # When a new run starts on the same directory
    server = EmbeddedPostgres(data_dir)
    try:
        url = server.start()
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            rows = await connection.fetch("SELECT value FROM kept")
        finally:
            await connection.close()
    finally:
        server.stop()

    # Then the orphan was stopped and the data survived
    with pytest.raises(ProcessLookupError):
        os.kill(orphan_pid, 0)
    assert [row["value"] for row in rows] == ["before"]


async def test_postgres_starts_when_postmaster_pid_names_a_recycled_pid(tmp_path: Path) -> None:
    # Given a postmaster.pid left by a crash whose pid now belongs to an unrelated process of the
    # same user, which postgres alone would take for a running postmaster
    data_dir = tmp_path / "postgres"
    first = EmbeddedPostgres(data_dir, durable=False)
    first.start()
    first.stop()
    postgres_user = pwd.getpwuid(data_dir.stat().st_uid)
    unrelated = await asyncio.create_subprocess_exec("sleep", "60", user=postgres_user.pw_uid)
    (data_dir / "postmaster.pid").write_text(f"{unrelated.pid}\n{data_dir}\n")

    # When the server starts
    server = EmbeddedPostgres(data_dir, durable=False)
    try:
        url = server.start()
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            answer = await connection.fetchval("SELECT 1")
        finally:
            await connection.close()
    finally:
        server.stop()
        unrelated.kill()
        await unrelated.wait()

    # Then it runs, and the unrelated process was left alone until now
    assert answer == 1
    assert unrelated.returncode == -signal.SIGKILL


async def test_redis_answers_ping_set_and_get(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", persistent=False)
    url = server.start()
    client = redis.Redis.from_url(url)
    try:
        assert await client.ping() is True
        await client.set("greeting", "hello")
        assert await client.get("greeting") == b"hello"
        assert int(url.rsplit(":", 1)[1].split("/")[0]) not in STANDARD_PORTS
    finally:
        await client.aclose()
        server.stop()


async def test_persistent_redis_keeps_keys_across_a_restart(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "redis", persistent=True)
    client = redis.Redis.from_url(first.start())
    await client.set("kept", "yes")
    await client.aclose()
    first.stop()

    second = EmbeddedRedis(tmp_path / "redis", persistent=True)
    client = redis.Redis.from_url(second.start())
    try:
        assert await client.get("kept") == b"yes"
    finally:
        await client.aclose()
        second.stop()


async def test_kafka_acknowledges_with_acks_all_and_delivers_back(kafka_servers: str) -> None:
    topic = f"embedded-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_servers, acks="all")
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, key=b"session-1", value=b"step completed")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_servers, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()

    assert metadata.offset == 0
    assert (record.key, record.value, record.offset) == (b"session-1", b"step completed", 0)


async def test_stack_starts_only_the_servers_whose_env_var_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@db.example:5432/app")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.delenv("REDIS_URL", raising=False)

    with EmbeddedStack(tmp_path, persistent=False) as urls:
        client = redis.Redis.from_url(urls["REDIS_URL"])
        try:
            assert await client.ping() is True
        finally:
            await client.aclose()

    assert urls["DATABASE_URL"] == "postgresql+asyncpg://app@db.example:5432/app"
    assert urls["KAFKA_BOOTSTRAP_SERVERS"] == "kafka.example:9092"
    assert urls["REDIS_URL"].startswith("redis://127.0.0.1:")
    assert not (tmp_path / "postgres").exists()
    assert not (tmp_path / "kafka.log").exists()
    stopped = redis.Redis.from_url(urls["REDIS_URL"])
    with pytest.raises(redis.ConnectionError):
        await stopped.ping()
    await stopped.aclose()
