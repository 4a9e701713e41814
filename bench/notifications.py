"""Notification fan-out: N in-app notifications to U users, each listening on a websocket.

One producer plays the worker: `notify` in its own transaction per notification, JOBS at a time (arq's
max_jobs), as the jobs that produce notifications do. Prints the latency from the trigger (the start
of its transaction) to receipt on the user's socket, and the notifications per second the one producer
made. `python -m bench.notifications [--users 1000 --notifications 10000]`.
"""

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass

import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import one_api, percentile, wait_until_healthy

CONNECT_BATCH = 50
JOBS = 20
SUBSCRIBE = "subscription { notifications { id data } }"


@dataclass
class User:
    id: uuid.UUID
    token: str
    socket: ClientConnection | None = None


async def _prepare(count: int) -> list[User]:
    """Users with in-app only preferences (push and email off), made in bulk: no password hashing."""
    from sqlalchemy import insert

    from core.auth import Role, issue_access_token
    from core.db import transaction
    from models.accounts import User as UserRow
    from models.notifications import NotificationPreference

    ids = [uuid.uuid4() for _ in range(count)]
    async with transaction() as db:
        await db.execute(
            insert(UserRow),
            [
                {
                    "id": i,
                    "email": f"bench-{i.hex[:12]}@example.com",
                    "password_hash": "-",
                    "name": f"User {n}",
                }
                for n, i in enumerate(ids)
            ],
        )
        await db.execute(
            insert(NotificationPreference),
            [{"user_id": i, "email": False, "push": False, "muted_kinds": []} for i in ids],
        )
    return [User(i, issue_access_token(i, Role.STUDENT)[0]) for i in ids]


async def _open(user: User, ws_url: str) -> None:
    socket = await connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=60, max_queue=None)  # type: ignore[list-item]
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {user.token}"}})
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    user.socket = socket


async def _listen(user: User, received: dict[int, float], done: asyncio.Event, expected: int) -> None:
    assert user.socket is not None
    async for raw in user.socket:
        message = json.loads(raw)
        if message["type"] == "ping":
            await user.socket.send(json.dumps({"type": "pong"}))
        elif message["type"] == "next":
            received[message["payload"]["data"]["notifications"]["data"]["n"]] = time.perf_counter()
            if len(received) == expected:
                done.set()


async def _produce(
    users: list[User], total: int, triggered: dict[int, float], published: dict[int, float]
) -> float:
    """Makes `total` notifications round-robin over the users, JOBS at a time; returns the seconds taken."""
    from core.db import transaction
    from resolvers.notifications import notify

    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)

    async def job() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            user = users[n % len(users)]
            triggered[n] = time.perf_counter()
            async with transaction() as db:
                await notify(
                    db,
                    user.id,
                    "summary_ready",
                    variables={"title": f"Chapter {n}"},
                    dedupe_key=f"bench:{n}",
                    data={"n": n},
                )
            # The transaction has committed and its after-commit publish has gone to Redis.
            published[n] = time.perf_counter()

    started = time.perf_counter()
    await asyncio.gather(*(job() for _ in range(JOBS)))
    return time.perf_counter() - started


async def _run(args: argparse.Namespace, api_url: str, api: psutil.Process) -> None:
    await wait_until_healthy(api_url)
    users = await _prepare(args.users)
    ws_url = api_url.replace("http://", "ws://") + "/graphql"
    for i in range(0, len(users), CONNECT_BATCH):
        await asyncio.gather(*(_open(u, ws_url) for u in users[i : i + CONNECT_BATCH]))
    from broadcast.notifications import user_channel
    from tests.helpers.pubsub import wait_for_subscribers

    # Every socket's subscription is listening on Redis before the first notification.
    for user in users:
        await wait_for_subscribers(user_channel(user.id))
    received: dict[int, float] = {}
    done = asyncio.Event()
    listeners = [asyncio.create_task(_listen(u, received, done, args.notifications)) for u in users]
    triggered: dict[int, float] = {}
    published: dict[int, float] = {}
    seconds = await _produce(users, args.notifications, triggered, published)
    await asyncio.wait_for(done.wait(), timeout=300)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(u.socket.close() for u in users if u.socket), return_exceptions=True)
    from core.db import dispose_engine
    from core.redis import close_redis

    await dispose_engine()
    await close_redis()
    ms = [(received[n] - triggered[n]) * 1000 for n in triggered]
    print(f"users: {len(users)}  notifications: {len(ms)}  producer jobs at a time: {JOBS}")
    p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
    print(f"trigger -> delivery (ms): p50 {p50:.1f}  p99 {p99:.1f}  max {max(ms):.1f}")
    fan_out = [max(0.0, received[n] - published[n]) * 1000 for n in published]
    print(
        f"publish -> delivery (ms): p50 {percentile(fan_out, 0.5):.1f}  p99 {percentile(fan_out, 0.99):.1f}"
    )
    print(f"one worker: {len(ms) / seconds:.0f} notifications/s ({seconds:.1f} s for {len(ms)})")
    print(f"api RSS: {api.memory_info().rss / 1024 / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--notifications", type=int, default=10000)
    args = parser.parse_args()
    os.environ["LOG_LEVEL"] = "WARNING"
    with one_api() as (url, api):
        asyncio.run(_run(args, url, psutil.Process(api.pid)))


if __name__ == "__main__":
    main()
