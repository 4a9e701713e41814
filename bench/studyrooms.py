"""Study-room benchmark: R rooms of M members, every member following their room and sending a message
a second.

Starts embedded Postgres and Redis (or uses DATABASE_URL/REDIS_URL) and one api process; makes the users
(one shared password hash, so the setup is not argon2-bound), the rooms and the memberships; opens one
`studyRoomEvents` subscription (graphql-transport-ws) per member; then for `--seconds` every member sends
a message a second over HTTP. Prints the delivery latency from each send to each room-mate's receipt
(p50/p99/max) and the api process's RSS.

    uv run python -m bench.studyrooms --rooms 200 --members 8 --seconds 30
"""

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import cpu_seconds, one_api, percentile, wait_until_healthy

CONNECT_BATCH = 50
SUBSCRIBE = """
subscription($id: ID!) { studyRoomEvents(roomId: $id) {
  __typename ... on RoomMessagePosted { seq message { text } } } }"""
SEND = "mutation($id: ID!, $t: String!) { sendStudyRoomMessage(roomId: $id, text: $t) { id } }"


@dataclass
class Member:
    token: str
    room_id: str
    socket: ClientConnection | None = None
    received: dict[str, float] = field(default_factory=dict)  # message text -> perf_counter at receipt


async def _prepare(rooms: int, members: int) -> list[Member]:
    from core.auth import Role, UserActor, hash_password, issue_access_token
    from core.db import transaction
    from models.accounts import User
    from resolvers.studyrooms import rooms as study_rooms

    password_hash = await hash_password("bench password")
    made: list[Member] = []
    for r in range(rooms):
        async with transaction() as db:
            users = [
                User(email=f"bench-{r}-{m}@example.com", password_hash=password_hash, name=f"Member {m}")
                for m in range(members)
            ]
            db.add_all(users)
            await db.flush()
            actors = [UserActor(user.id, Role.STUDENT) for user in users]
            room = await study_rooms.create_room(
                db, actors[0], study_rooms.RoomDraft(name=f"Bench room {r}", capacity=max(members, 2))
            )
            for joiner in actors[1:]:
                await study_rooms.join_room(db, joiner, room.id, None)
        made.extend(Member(issue_access_token(a.user_id, a.role)[0], str(room.id)) for a in actors)
    return made


async def _open(member: Member, ws_url: str) -> None:
    socket = await connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=60, max_queue=None)  # type: ignore[list-item]
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {member.token}"}})
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    payload = {"query": SUBSCRIBE, "variables": {"id": member.room_id}}
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    snapshot = json.loads(await socket.recv())
    assert snapshot["payload"]["data"]["studyRoomEvents"]["__typename"] == "StudyRoomSnapshot", snapshot
    member.socket = socket


async def _listen(member: Member) -> None:
    assert member.socket is not None
    async for raw in member.socket:
        message = json.loads(raw)
        if message["type"] == "ping":
            await member.socket.send(json.dumps({"type": "pong"}))
        elif message["type"] == "next":
            event = message["payload"]["data"]["studyRoomEvents"]
            if event["__typename"] == "RoomMessagePosted":
                member.received[event["message"]["text"]] = time.perf_counter()


async def _talk(
    member: Member,
    http: httpx.AsyncClient,
    seconds: int,
    sent: dict[str, tuple[str, float]],
    failed: list[str],
) -> None:
    """A message a second, on the second (so a slow answer does not slow the pace down); a send failed in
    transport is counted in `failed`, not retried."""
    start = time.perf_counter()
    for n in range(seconds):
        await asyncio.sleep(max(0.0, start + n - time.perf_counter()))
        text = uuid.uuid4().hex
        sent[text] = (member.room_id, time.perf_counter())
        try:
            response = await http.post(
                "/graphql",
                json={"query": SEND, "variables": {"id": member.room_id, "t": text}},
                headers={"Authorization": f"Bearer {member.token}"},
            )
            refused = "errors" in response.json()
        except httpx.HTTPError as error:
            refused = True
            failed.append(type(error).__name__)
        if refused:
            del sent[text]


async def _run(args: argparse.Namespace, api_url: str, api: psutil.Process) -> None:
    await wait_until_healthy(api_url)
    members = await _prepare(args.rooms, args.members)
    ws_url = api_url.replace("http://", "ws://") + "/graphql"
    rss_idle = api.memory_info().rss
    for i in range(0, len(members), CONNECT_BATCH):
        await asyncio.gather(*(_open(m, ws_url) for m in members[i : i + CONNECT_BATCH]))
    rss_subscribed = api.memory_info().rss
    listeners = [asyncio.create_task(_listen(m)) for m in members]
    sent: dict[str, tuple[str, float]] = {}
    failed: list[str] = []
    limits = httpx.Limits(max_connections=200)
    api_cpu = cpu_seconds(api)
    async with httpx.AsyncClient(base_url=api_url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(_talk(m, http, args.seconds, sent, failed) for m in members))
    rss_peak = api.memory_info().rss
    await asyncio.sleep(args.drain)
    api_cpu = cpu_seconds(api) - api_cpu
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(m.socket.close() for m in members if m.socket), return_exceptions=True)
    from core.db import dispose_engine
    from core.redis import close_redis

    await dispose_engine()
    await close_redis()
    ms: list[float] = []
    missing = 0
    for member in members:
        for text, (room_id, at) in sent.items():
            if room_id != member.room_id:
                continue
            if text in member.received:
                ms.append((member.received[text] - at) * 1000)
            else:
                missing += 1
    print(f"rooms: {args.rooms}  members each: {args.members}  messages sent: {len(sent)}")
    attempted = args.rooms * args.members * args.seconds
    print(f"sends refused or failed: {attempted - len(sent)} (in transport: {len(failed)})")
    print(f"deliveries: {len(ms)}  missing after {args.drain:.0f} s: {missing}")
    print(
        f"api CPU while sending and draining: {api_cpu:.1f} s "
        f"({api_cpu * 1000 / max(len(sent), 1):.2f} ms per message sent)"
    )
    if ms:
        print(
            f"delivery latency from send to receipt (ms): p50 {percentile(ms, 0.5):.1f}  "
            f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}"
        )
    mb = 1024 * 1024
    print(
        f"api RSS (MiB): idle {rss_idle / mb:.0f}  with subscriptions {rss_subscribed / mb:.0f}  "
        f"after the messages {rss_peak / mb:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late deliveries")
    args = parser.parse_args()
    os.environ["LOG_LEVEL"] = "WARNING"
    with one_api() as (url, api):
        asyncio.run(_run(args, url, psutil.Process(api.pid)))


if __name__ == "__main__":
    main()
