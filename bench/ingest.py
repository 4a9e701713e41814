"""End-to-end ingest: events through `appendRecordingEvents` → Kafka → the worker's drain → Postgres, beside
the ceiling of the same Postgres for the drain's statement, measured in the same sitting.

Starts embedded Postgres, Redis and Kafka in a temporary directory (or uses DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS when set), migrates a fresh database, runs `studymate api` and
`studymate worker` as processes, then sends the events in batches from concurrent clients, one recording
per client, their request bodies written before the clock starts. Prints the api's acceptance rate, the
end-to-end rate (first mutation sent to the last row in Postgres), the worker's drain rate (first row
to last row), and the CPU time per event of the api, the worker and the servers (Postgres, Kafka and
Redis when embedded) over that same span.

The reference is `../shared/bench/limits/pg_ingest.py`'s `unnest` method (its rows, its batches of 2,000,
one connection, a fresh table each time) run against the same Postgres server in a database of its own,
before the end-to-end runs and again after them; the ratio is end to end against their median.

    uv run python -m bench.ingest --events 200000 --batch 500 --concurrency 8 [--api-workers 2] [--runs 3]
"""

import argparse
import asyncio
import importlib
import os
import statistics
import sys
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
from sqlalchemy.engine import make_url

from bench.harness import components, cpu_seconds, studymate, wait_until_healthy

START = "mutation Start($t: String!) { startRecording(title: $t) { id } }"
APPEND = """mutation Append($id: ID!, $events: [RecordingEventInput!]!) {
  appendRecordingEvents(recordingId: $id, events: $events) { accepted deliveredVia } }"""
LIMITS_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "limits"
REFERENCE_DATABASE = "pg_ingest_reference"
# pg_ingest.py's defaults.
REFERENCE_ROWS = 200_000
REFERENCE_BATCH = 2000


async def instructor_token() -> str:
    from core.auth import Role, issue_access_token
    from core.db import transaction
    from resolvers import accounts

    async with transaction() as db:
        registration = accounts.Registration(
            f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password", "Bench"
        )
        result = await accounts.register(db, registration)
        result.user.role = Role.INSTRUCTOR
    token, _ = issue_access_token(result.user.id, Role.INSTRUCTOR)
    return token


def batches(total: int, size: int) -> list[list[dict[str, Any]]]:
    start = datetime.now(UTC) - timedelta(hours=1)
    events = [
        {
            "eventId": str(uuid.uuid4()),
            "eventType": "TYPE_VIEW_CLICKED",
            "occurredAt": (start + timedelta(milliseconds=i)).isoformat(),
            "packageName": "com.kakao.talk",
            "viewId": f"com.kakao.talk:id/button_{i % 40}",
            "text": f"Button {i % 40}",
        }
        for i in range(total)
    ]
    return [events[i : i + size] for i in range(0, total, size)]


async def stored_rows(recordings: list[str]) -> int:
    """Events stored in `recordings`: their event counts, which grow in the transaction that inserts the
    rows. Polled every 20 ms, a count(*) of the growing table would compete with the drain for Postgres."""
    from sqlalchemy import text

    from core.db import read_session

    statement = text(
        "SELECT coalesce(sum(event_count), 0) FROM recordings WHERE id = ANY(CAST(:ids AS uuid[]))"
    )
    async with read_session() as db:
        return int((await db.execute(statement, {"ids": recordings})).scalar_one())


def pg_ingest(limits_dir: Path) -> ModuleType:
    """The limits benchmark as a module: its table, rows and `unnest` statement, not its own server."""
    sys.path.insert(0, str(limits_dir))
    try:
        return importlib.import_module("pg_ingest")
    finally:
        sys.path.remove(str(limits_dir))


async def reference_rows_per_second(limits: ModuleType, rows: list[tuple[Any, ...]], repeat: int) -> float:
    """pg_ingest's `unnest` rows/s on this sitting's Postgres: the median of `repeat` fresh runs."""
    url = make_url(os.environ["DATABASE_URL"])
    connect = {"host": url.host, "port": url.port, "user": url.username, "password": url.password}
    admin = await asyncpg.connect(**connect, database="postgres")
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {REFERENCE_DATABASE}")
        await admin.execute(f"CREATE DATABASE {REFERENCE_DATABASE}")
    finally:
        await admin.close()
    pool = await asyncpg.create_pool(**connect, database=REFERENCE_DATABASE, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute(limits.DDL)
        chunks = [rows[i : i + REFERENCE_BATCH] for i in range(0, len(rows), REFERENCE_BATCH)]
        rates = []
        for _ in range(repeat):
            async with pool.acquire() as conn:
                await conn.execute("TRUNCATE activity_log")
                await conn.execute("CHECKPOINT")
            elapsed = await limits.run_once(pool, limits.m_unnest, chunks, 1)
            rates.append(len(rows) / elapsed)
        return statistics.median(rates)
    finally:
        await pool.close()


def _cpu(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU seconds so far of the api (with its worker processes under --api-workers), the worker, and the
    servers: every other process this benchmark started. A process that ended meanwhile (a Postgres
    backend) is left out."""

    def tree(process: psutil.Process) -> list[psutil.Process]:
        return [process, *process.children(recursive=True)]

    def seconds(group: list[psutil.Process]) -> float:
        total = 0.0
        for process in group:
            with suppress(psutil.NoSuchProcess):
                total += cpu_seconds(process)
        return total

    groups = {name: tree(process) for name, process in processes.items()}
    known = {process.pid for group in groups.values() for process in group}
    groups["servers"] = [
        child for child in psutil.Process().children(recursive=True) if child.pid not in known
    ]
    return {name: seconds(group) for name, group in groups.items()}


async def end_to_end(
    url: str, total: int, size: int, concurrency: int, processes: dict[str, psutil.Process]
) -> dict[str, float]:
    """One run: `total` events from `concurrency` clients, each into a recording of its own."""
    from core.kafka import DRAIN_STATS_KEY
    from core.redis import redis

    token = await instructor_token()
    headers = {"Authorization": f"Bearer {token}"}
    work = batches(total, size)
    drain_before = await redis().hgetall(DRAIN_STATS_KEY)  # type: ignore[misc]  # redis-py's sync-or-async types
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        recordings = []
        for n in range(concurrency):
            answer = (
                await http.post("/graphql", json={"query": START, "variables": {"t": f"bench {n}"}})
            ).json()
            recordings.append(answer["data"]["startRecording"]["id"])
        paths: dict[str, int] = {}
        # Written before the clock starts, as pg_ingest.py makes its rows: the clients' JSON encoding
        # would otherwise take CPU from the servers it measures (the machine has two cores).
        bodies = [
            [
                (
                    orjson.dumps({"query": APPEND, "variables": {"id": recordings[n], "events": batch}}),
                    len(batch),
                )
                for batch in work[n::concurrency]
            ]
            for n in range(concurrency)
        ]
        json_body = {"Content-Type": "application/json"}

        async def client(n: int) -> None:
            for body, events in bodies[n]:
                answer = (await http.post("/graphql", content=body, headers=json_body)).json()
                assert "errors" not in answer, answer["errors"]
                path = answer["data"]["appendRecordingEvents"]["deliveredVia"]
                paths[path] = paths.get(path, 0) + events

        cpu_before = _cpu(processes)
        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(concurrency)))
        accepted = time.perf_counter() - started
        # Postgres has no event to await: the end-to-end time ends when the count reaches the total.
        while await stored_rows(recordings) < total:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        finished = time.perf_counter()
        cpu_after = _cpu(processes)
    drain = await redis().hgetall(DRAIN_STATS_KEY)  # type: ignore[misc]  # redis-py's sync-or-async types
    drained = int(drain["rows_total"]) - int(drain_before.get("rows_total", 0))
    busy = float(drain["busy_seconds"]) - float(drain_before.get("busy_seconds", 0))
    return {
        "accepted": total / accepted,
        "end_to_end": total / (finished - started),
        "drain": drained / busy,
        "seconds": finished - started,
        # Kafka acks=all unless a send timed out (an overloaded machine), which falls back to Postgres.
        "through_postgres": paths.get("DATABASE", 0),
        **{f"{name}_us": (cpu_after[name] - cpu_before[name]) * 1e6 / total for name in cpu_after},
    }


async def run(args: argparse.Namespace, url: str, processes: dict[str, psutil.Process]) -> None:
    limits = pg_ingest(args.limits_dir)
    reference_rows = limits.make_rows(REFERENCE_ROWS)
    await wait_until_healthy(url)
    references = [await reference_rows_per_second(limits, reference_rows, args.reference_repeat)]
    results = [
        await end_to_end(url, args.events, args.batch, args.concurrency, processes) for _ in range(args.runs)
    ]
    references.append(await reference_rows_per_second(limits, reference_rows, args.reference_repeat))
    reference = statistics.median(references)
    print(
        f"events            {args.events} per run in batches of {args.batch}, {args.concurrency} "
        f"concurrent clients, {args.api_workers} api process(es), Kafka acks=all"
    )
    print(
        f"reference         {reference:>10.0f} rows/s    pg_ingest.py unnest on the same Postgres "
        f"(before {references[0]:.0f}, after {references[1]:.0f})"
    )
    for n, result in enumerate(results, 1):
        print(
            f"run {n}: api accepted {result['accepted']:>7.0f} events/s, end to end "
            f"{result['end_to_end']:>7.0f} events/s ({result['seconds']:.2f} s) = "
            f"{result['end_to_end'] / reference:.3f}x the reference, "
            f"worker drain {result['drain']:.0f} rows/s, "
            f"{result['through_postgres']:.0f} events through the Postgres fallback; CPU per event: "
            f"api {result['api_us']:.1f} us, worker {result['worker_us']:.1f} us, "
            f"servers {result['servers_us']:.1f} us"
        )
    median = statistics.median(result["end_to_end"] for result in results)
    print(f"end to end        {median:>10.0f} events/s    median of {args.runs}: {median / reference:.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-workers", type=int, default=1, help="api processes (uvicorn --workers)")
    parser.add_argument("--runs", type=int, default=1, help="end-to-end runs in this sitting")
    parser.add_argument("--reference-repeat", type=int, default=3, help="pg_ingest runs per reference")
    parser.add_argument("--limits-dir", type=Path, default=LIMITS_DIR, help="where pg_ingest.py is")
    args = parser.parse_args()
    # A fresh topic and database, so the row count starts at zero and no earlier run's events drain.
    os.environ["KAFKA_ACTIVITY_TOPIC"] = f"bench-activity-{uuid.uuid4().hex[:8]}"
    os.environ["LOG_LEVEL"] = "WARNING"
    api = ["api", "--host", "127.0.0.1", "--port", str(args.port), "--workers", str(args.api_workers)]
    with (
        components(database=f"studymate_bench_{uuid.uuid4().hex[:8]}") as tmp,
        studymate(["worker"], tmp / "worker.log") as worker,
        studymate(api, tmp / "api.log") as api_process,
    ):
        processes = {"api": psutil.Process(api_process.pid), "worker": psutil.Process(worker.pid)}
        asyncio.run(run(args, f"http://127.0.0.1:{args.port}", processes))


if __name__ == "__main__":
    main()
