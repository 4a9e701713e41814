"""AI summaries end to end: `requestSummary` through `studymate api`, `study.summarize` in one `studymate
worker`, the summary back on each user's `summaryReady` websocket.

Starts embedded Postgres, Redis and Kafka in a temporary directory (or uses DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS when set), migrates a fresh database, and runs the api and one worker with OpenAI
pointed at a local fake AI server (the tests' own) that answers every call after `--ai-delay` seconds.
`--users` students, each with enough SUMMARY credits, subscribe to `summaryReady`; then `--requests`
requests (each with its own topic) are sent from `--concurrency` clients. Prints:

- requests/s accepted: mutations answered with a QUEUED job, over the time to send them all;
- job completions/s of the one worker: finished jobs over the first job start to the last finish;
- p50/p95 request → `summaryReady` latency: from sending the mutation to the summary on the socket.

    uv run python -m bench.study --requests 200 --users 20 --concurrency 32 --ai-delay 0.2
"""

import argparse
import asyncio
import json
import math
import os
import time
import uuid
from contextlib import AsyncExitStack

import httpx

from bench.harness import components, percentile, studymate, wait_until_healthy
from devstack import free_port

REQUEST = """mutation($subjectId: ID!, $topic: String) {
  requestSummary(subjectId: $subjectId, topic: $topic) { id status } }"""
SUMMARY_READY = "subscription { summaryReady { id topic } }"
STARTUP_WAITS = 5
ANSWER = json.dumps({"title": "Photosynthesis", "content": "Light, water and CO2 become sugar and oxygen."})


async def _prepare(users: int, per_user: int) -> tuple[str, list[tuple[uuid.UUID, str]]]:
    """A subject, and `users` students with `per_user` SUMMARY credits each; their ids and tokens."""
    from core.auth import Role, issue_access_token
    from core.db import transaction
    from models.accounts import User
    from models.billing import CreditKind
    from resolvers.billing import credits
    from tests.helpers.study import make_subject

    subject = await make_subject("Biology", description="Cells, genes and ecosystems")
    students = [
        User(email=f"bench-{uuid.uuid4().hex[:10]}@example.com", password_hash="-", name="Bench")
        for _ in range(users)
    ]
    async with transaction() as db:
        db.add_all(students)
    free = 5
    for student in students:
        if per_user > free:
            async with transaction() as db:
                await credits.grant(db, student.id, CreditKind.SUMMARY, per_user - free, "bench top-up")
    return str(subject.id), [(s.id, issue_access_token(s.id, Role.STUDENT)[0]) for s in students]


async def _job_rate() -> tuple[int, float]:
    """Finished jobs, and the worker's span from its first start to its last finish, in seconds."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from core.db import read_session
    from models.study import AiJob, JobStatus

    async with read_session() as db:
        done, first, last = (
            await db.execute(
                select(func.count(), func.min(col(AiJob.started_at)), func.max(col(AiJob.finished_at))).where(
                    col(AiJob.status) == JobStatus.DONE
                )
            )
        ).one()
    return int(done), (last - first).total_seconds() if done else 0.0


async def run(api_url: str, ai_port: int, args: argparse.Namespace) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    from broadcast.study import summaries_channel
    from core.db import dispose_engine
    from tests.helpers.client import TRANSPORT_WS, Subscription, subscription
    from tests.helpers.fake_ai_server import FakeAiServer, Scripted
    from tests.helpers.pubsub import wait_for_subscribers
    from tests.helpers.servers import serving

    # The api and the worker start side by side; on a loaded machine that takes longer than one wait.
    for attempt in range(1, STARTUP_WAITS + 1):
        try:
            await wait_until_healthy(api_url)
            break
        except TimeoutError:
            if attempt == STARTUP_WAITS:
                raise
    per_user = math.ceil(args.requests / args.users)
    subject_id, students = await _prepare(args.users, per_user)
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    everything = asyncio.Event()

    async def listen(socket: Subscription) -> None:
        while True:
            data = await socket.next_data(timeout=args.timeout)
            arrived[data["summaryReady"]["topic"]] = time.perf_counter()
            if len(arrived) == args.requests:
                everything.set()

    try:
        async with AsyncExitStack() as stack:
            # On the port the api and the worker were given when they started; OpenAI's route only.
            fake = FakeAiServer(port=ai_port)
            routes = [Route("/v1/chat/completions", fake.chat_completions, methods=["POST"])]
            await stack.enter_async_context(serving(Starlette(routes=routes), ai_port))
            fake.script.extend(Scripted(text=ANSWER, delay=args.ai_delay) for _ in range(args.requests))
            sockets = [
                await stack.enter_async_context(subscription(api_url, TRANSPORT_WS, token=token))
                for _, token in students
            ]
            for socket in sockets:
                await socket.start(SUMMARY_READY)
            for user_id, _ in students:
                await wait_for_subscribers(summaries_channel(user_id))
            listeners = [asyncio.create_task(listen(socket)) for socket in sockets]
            limits = httpx.Limits(
                max_connections=args.concurrency, max_keepalive_connections=args.concurrency
            )
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60)
            )
            work = iter(range(args.requests))
            refused = 0

            async def client() -> None:
                nonlocal refused
                for i in work:
                    _, token = students[i % len(students)]
                    topic = f"bench topic {i}"
                    sent[topic] = time.perf_counter()
                    payload = {"query": REQUEST, "variables": {"subjectId": subject_id, "topic": topic}}
                    body = (
                        await http.post(
                            "/graphql", json=payload, headers={"Authorization": f"Bearer {token}"}
                        )
                    ).json()
                    if "errors" in body:
                        refused += 1
                        print("refused:", body["errors"][0]["message"])

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(args.concurrency)))
            accepting = time.perf_counter() - started
            try:
                await asyncio.wait_for(everything.wait(), args.timeout)
            except TimeoutError:
                print(f"only {len(arrived)} of {args.requests} summaries arrived within {args.timeout:g}s")
            for listener in listeners:
                listener.cancel()
        done, span = await _job_rate()
        latencies = [arrived[topic] - sent[topic] for topic in arrived]
        accepted = args.requests - refused
        print(
            f"requests    {accepted} of {args.requests} accepted at {args.concurrency} concurrent: "
            f"{accepted / accepting:.0f} requests/s"
        )
        print(
            f"worker      {done} jobs done by one worker, AI answering after {args.ai_delay * 1000:.0f} ms: "
            f"{done / span if span else 0:.1f} jobs/s"
        )
        if latencies:
            p50, p95 = (percentile(latencies, fraction) * 1000 for fraction in (0.5, 0.95))
            print(
                f"latency     request → summaryReady over {len(latencies)} summaries: "
                f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"
            )
    finally:
        await dispose_engine()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--ai-delay", type=float, default=0.2, help="seconds the fake AI takes per answer")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every summary")
    args = parser.parse_args()
    ai_port = free_port()
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["OPENAI_API_KEY"] = "bench-openai-key"
    os.environ["OPENAI_BASE_URL"] = f"http://127.0.0.1:{ai_port}/v1"
    os.environ["AI_PROVIDER_ORDER"] = "openai"
    port = free_port()
    api = ["api", "--host", "127.0.0.1", "--port", str(port)]
    with (
        components(database=f"studymate_bench_{uuid.uuid4().hex[:8]}") as tmp,
        studymate(api, tmp / "api.log"),
        studymate(["worker"], tmp / "worker.log"),
    ):
        asyncio.run(run(f"http://127.0.0.1:{port}", ai_port, args))


if __name__ == "__main__":
    main()
