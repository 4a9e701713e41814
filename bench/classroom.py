"""Fan-out benchmark: N participants follow one live session while the instructor advances the step.

Starts embedded Postgres and Redis (or uses DATABASE_URL/REDIS_URL), one api process, joins N
participants, opens N `sessionEvents` subscriptions (graphql-transport-ws) from this process, advances
the step `--steps` times, and prints the latency from each `nextStep` mutation's return to each
subscriber's receipt of the matching StepChanged (p50/p99/max), plus the api process's RSS.
With `--idle` it only holds the subscriptions and prints the api's memory per idle subscription.
`--api-path` runs the api from another checkout (e.g. the commit before a change), so a before/after
comparison happens in one sitting on this shared machine.

    uv run python -m bench.classroom --participants 1000 --steps 20
    uv run python -m bench.classroom --participants 10000 --idle
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass, field

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import cpu_seconds, one_api, percentile, wait_until_healthy

CONNECT_BATCH = 50
# Held subscriptions settle (the first pings, the allocator) before the idle figure is read.
IDLE_SETTLE_SECONDS = 5.0
MIB = 1024 * 1024
SUBSCRIBE = """
subscription($id: ID!) { sessionEvents(sessionId: $id) {
  __typename ... on SessionSnapshot { seq }
  ... on StepChanged { seq step { id order title guideText } } } }"""
NEXT = "mutation($id: ID!) { nextStep(sessionId: $id) { id } }"


@dataclass
class Phone:
    token: str
    socket: ClientConnection | None = None
    received: dict[int, float] = field(default_factory=dict)  # step order -> perf_counter at receipt


async def _open(phone: Phone, ws_url: str, session_id: str) -> None:
    socket = await connect(
        ws_url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=60,
        max_queue=None,
        # What a phone would not spend this process's CPU on: a proxy looked up in the environment for
        # each of thousands of loopback connections, a compression offer the api declines, and websocket
        # pings of its own (the server's protocol pings keep the connection alive, answered in `_listen`).
        proxy=None,
        compression=None,
        ping_interval=None,
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {phone.token}"}})
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    payload = {"query": SUBSCRIBE, "variables": {"id": session_id}}
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    snapshot = json.loads(await socket.recv())
    while snapshot["type"] == "ping":  # a slow subscribe may see the server's keep-alive first
        snapshot = json.loads(await socket.recv())
    assert snapshot["payload"]["data"]["sessionEvents"]["__typename"] == "SessionSnapshot", snapshot
    phone.socket = socket


async def _listen(
    phone: Phone, arrivals: dict[int, asyncio.Event], counts: dict[int, int], expected: int
) -> None:
    assert phone.socket is not None
    async for raw in phone.socket:
        message = json.loads(raw)
        if message["type"] == "ping":
            await phone.socket.send(json.dumps({"type": "pong"}))
            continue
        if message["type"] != "next":
            continue
        event = message["payload"]["data"]["sessionEvents"]
        if event["__typename"] == "StepChanged":
            order = event["step"]["order"]
            phone.received[order] = time.perf_counter()
            counts[order] = counts.get(order, 0) + 1
            if counts[order] == expected:
                arrivals[order].set()


async def _prepare(participants: int, steps: int) -> tuple[str, str, list[str]]:
    """An instructor, a lecture with a task of `steps + 1` steps, a started session and N participants
    (seated in one transaction: joining one by one is not what is measured)."""
    from core.auth import Role
    from core.db import transaction
    from resolvers import classroom
    from tests.helpers.classroom import actor, make_lecture, make_task
    from tests.helpers.factories import make_account
    from tests.helpers.fanout import seat_participants

    instructor = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(instructor)
    task = await make_task(instructor, lecture, steps + 1)
    async with transaction() as db:
        session = await classroom.create_live_session(db, actor(instructor), lecture.id, task.id, "Bench")
    async with transaction() as db:
        await classroom.control(db, actor(instructor), session.id, classroom.Action.START)
    return instructor.token, str(session.id), await seat_participants(session.id, participants)


async def _run(args: argparse.Namespace, api_url: str, api: psutil.Process) -> None:
    await wait_until_healthy(api_url)
    changes = args.warmup + args.steps
    instructor_token, session_id, tokens = await _prepare(args.participants, changes)
    ws_url = api_url.replace("http://", "ws://") + "/graphql"
    rss_idle = api.memory_info().rss
    phones = [Phone(token) for token in tokens]
    started, api_cpu, client_cpu = time.perf_counter(), cpu_seconds(api), time.process_time()
    for i in range(0, len(phones), CONNECT_BATCH):
        await asyncio.gather(*(_open(p, ws_url, session_id) for p in phones[i : i + CONNECT_BATCH]))
    connect_seconds = time.perf_counter() - started
    connect_cpu = cpu_seconds(api) - api_cpu
    # The phones run in this process, on the same two cores as the api: their CPU is reported beside the
    # api's, so that a slow subscribe phase can be told apart from a slow client.
    client_cpu = time.process_time() - client_cpu
    rss_subscribed = api.memory_info().rss
    if args.idle:
        await asyncio.sleep(IDLE_SETTLE_SECONDS)
        rss_held = api.memory_info().rss
        await _close(phones)
        print(f"participants: {len(phones)}")
        _print_subscribe(len(phones), connect_seconds, connect_cpu, client_cpu)
        print(
            f"api RSS (MiB): idle {rss_idle / MIB:.0f}  with subscriptions {rss_held / MIB:.0f}  "
            f"per idle subscription {(rss_held - rss_idle) / len(phones) / 1024:.1f} KiB"
        )
        return
    arrivals = {order: asyncio.Event() for order in range(2, changes + 2)}
    counts: dict[int, int] = {}
    listeners = [asyncio.create_task(_listen(p, arrivals, counts, len(phones))) for p in phones]
    latencies: list[float] = []
    rss_peak = rss_subscribed
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:
        for order in range(2, changes + 2):
            response = await http.post(
                "/graphql",
                json={"query": NEXT, "variables": {"id": session_id}},
                headers={"Authorization": f"Bearer {instructor_token}"},
            )
            returned = time.perf_counter()
            assert "errors" not in response.json(), response.json()
            await asyncio.wait_for(arrivals[order].wait(), timeout=60)
            if order >= 2 + args.warmup:
                latencies.extend(p.received[order] - returned for p in phones)
            rss_peak = max(rss_peak, api.memory_info().rss)
    for task in listeners:
        task.cancel()
    await _close(phones)
    early = sum(1 for value in latencies if value < 0)
    ms = [max(0.0, value) * 1000 for value in latencies]
    print(
        f"participants: {len(phones)}  step changes: {args.steps} after {args.warmup} unmeasured  "
        f"deliveries: {len(ms)}"
    )
    _print_subscribe(len(phones), connect_seconds, connect_cpu, client_cpu)
    print(
        f"latency from mutation return to receipt (ms): p50 {percentile(ms, 0.5):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}"
    )
    print(f"  ({early} deliveries arrived before the mutation's HTTP response did; counted as 0 ms)")
    print(
        f"api RSS (MiB): idle {rss_idle / MIB:.0f}  with subscriptions {rss_subscribed / MIB:.0f}  "
        f"peak during steps {rss_peak / MIB:.0f}"
    )


def _print_subscribe(phones: int, seconds: float, api_cpu: float, client_cpu: float) -> None:
    print(
        f"subscriptions opened in {seconds:.1f} s  api CPU {api_cpu:.1f} s "
        f"({api_cpu / phones * 1000:.2f} ms per subscribe)  bench client CPU {client_cpu:.1f} s "
        f"({client_cpu / phones * 1000:.2f} ms per subscribe)"
    )


async def _close(phones: list[Phone]) -> None:
    from core.db import dispose_engine
    from core.redis import close_redis

    await asyncio.gather(*(p.socket.close() for p in phones if p.socket), return_exceptions=True)
    await dispose_engine()
    await close_redis()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20)
    # As ws_fanout.py sends unmeasured warm-up messages: the first change after subscribing pays for
    # what each cohort sets up once (its reader, its first execution), about 200 ms at 1,000 phones.
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured step changes first")
    parser.add_argument("--idle", action="store_true", help="only hold the subscriptions; print memory")
    parser.add_argument("--api-path", help="a checkout to run the api from instead of this one")
    args = parser.parse_args()
    if args.api_path:
        # The child's imports resolve there first; this process keeps its own modules.
        os.environ["PYTHONPATH"] = os.path.abspath(args.api_path)
    os.environ["LOG_LEVEL"] = "WARNING"
    # One session holds every participant of the benchmark, beyond the default per-session cap.
    os.environ["MAX_PARTICIPANTS_PER_SESSION"] = str(max(args.participants, 200))
    with one_api() as (url, api):
        asyncio.run(_run(args, url, psutil.Process(api.pid)))


if __name__ == "__main__":
    main()
