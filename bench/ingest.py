"""End-to-end ingest: events through `appendRecordingEvents` → Kafka → the worker's drain → Postgres.

Starts embedded Postgres, Redis and Kafka in a temporary directory (or uses DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS when set), migrates a fresh database, runs `studymate api` and
`studymate worker` as processes, then sends the events in batches from concurrent clients, one recording
per client. Prints the api's acceptance rate, the end-to-end rate (first mutation sent to the last row
in Postgres) and the worker's drain rate (first row to last row).

    uv run python -m bench.ingest --events 200000 --batch 500 --concurrency 8 [--api-workers 2]
"""

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.harness import components, studymate, wait_until_healthy

START = "mutation Start($t: String!) { startRecording(title: $t) { id } }"
APPEND = """mutation Append($id: ID!, $events: [RecordingEventInput!]!) {
  appendRecordingEvents(recordingId: $id, events: $events) { accepted deliveredVia } }"""


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


async def stored_rows() -> int:
    from sqlalchemy import text

    from core.db import read_session

    async with read_session() as db:
        return int((await db.execute(text("SELECT count(*) FROM recording_events"))).scalar_one())


async def run(url: str, total: int, size: int, concurrency: int) -> None:
    from core.kafka import DRAIN_STATS_KEY
    from core.redis import redis

    await wait_until_healthy(url)
    token = await instructor_token()
    headers = {"Authorization": f"Bearer {token}"}
    work = batches(total, size)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        recordings = []
        for n in range(concurrency):
            answer = (
                await http.post("/graphql", json={"query": START, "variables": {"t": f"bench {n}"}})
            ).json()
            recordings.append(answer["data"]["startRecording"]["id"])
        paths: dict[str, int] = {}

        async def client(n: int) -> None:
            for batch in work[n::concurrency]:
                body = {"query": APPEND, "variables": {"id": recordings[n], "events": batch}}
                answer = (await http.post("/graphql", json=body)).json()
                assert "errors" not in answer, answer["errors"]
                path = answer["data"]["appendRecordingEvents"]["deliveredVia"]
                paths[path] = paths.get(path, 0) + len(batch)

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(concurrency)))
        accepted = time.perf_counter() - started
        # Postgres has no event to await: the end-to-end time ends when the count reaches the total.
        while await stored_rows() < total:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        finished = time.perf_counter()
    drain = await redis().hgetall(DRAIN_STATS_KEY)
    busy = float(drain["busy_seconds"])
    print(f"events            {total} in {len(work)} batches of {size}, {concurrency} concurrent clients")
    print(f"delivered via     {paths}")
    print(f"api accepted      {total / accepted:>10.0f} events/s  ({accepted:.2f} s, Kafka acks=all)")
    print(f"end to end        {total / (finished - started):>10.0f} events/s  ({finished - started:.2f} s)")
    print(
        f"worker drain      {int(drain['rows_total']) / busy:>10.0f} rows/s    "
        f"({drain['rows_total']} rows in {busy:.2f} s of writing and committing)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-workers", type=int, default=1, help="api processes (uvicorn --workers)")
    args = parser.parse_args()
    # A fresh topic and database, so the row count starts at zero and no earlier run's events drain.
    os.environ["KAFKA_ACTIVITY_TOPIC"] = f"bench-activity-{uuid.uuid4().hex[:8]}"
    os.environ["LOG_LEVEL"] = "WARNING"
    api = ["api", "--host", "127.0.0.1", "--port", str(args.port), "--workers", str(args.api_workers)]
    with (
        components(database=f"studymate_bench_{uuid.uuid4().hex[:8]}") as tmp,
        studymate(["worker"], tmp / "worker.log"),
        studymate(api, tmp / "api.log"),
    ):
        asyncio.run(run(f"http://127.0.0.1:{args.port}", args.events, args.batch, args.concurrency))


if __name__ == "__main__":
    main()
