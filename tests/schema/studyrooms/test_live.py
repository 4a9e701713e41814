"""The live room over real websockets, in both protocols and across two api processes: a snapshot, then
every change with a gap-free seq; members only; presence while subscribed; messages cleaned, bounded and
rate limited."""

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest

from core.db import transaction
from models.base import utcnow
from models.studyrooms import StudyRoomMessage
from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, GraphQLClient, error_code, subscription
from tests.helpers.factories import make_account
from tests.helpers.processes import api_process
from tests.helpers.studyrooms import (
    CLOSE_ROOM,
    LEAVE_ROOM,
    ROOM,
    ROOM_EVENTS,
    SEND_MESSAGE,
    SET_STATUS,
    create_room,
    following_room,
    join_room,
    room_event,
    stored_counts,
)

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_members_follow_the_whole_room_flow(api_url, gql, protocol: str) -> None:
    # Given a room with its host and a member, both following it
    host, member, late = (
        await make_account(name="Host"),
        await make_account(name="Mina"),
        await make_account(),
    )
    room = await create_room(gql, host)
    await join_room(gql, member, room["id"])
    await gql.data(SEND_MESSAGE, {"id": room["id"], "t": "hello"}, token=host.token)
    async with (
        following_room(api_url, protocol, host, room["id"]) as hosting,
        following_room(api_url, protocol, member, room["id"]) as watching,
    ):
        first = await room_event(hosting)
        second = await room_event(watching)
        # Then each starts from a snapshot: the members, the last messages, no timer
        assert first["__typename"] == "StudyRoomSnapshot"
        assert first["room"] == {"id": room["id"], "name": "Night owls", "closedAt": None}
        assert [m["user"]["id"] for m in first["members"]] == [host.id, member.id]
        assert first["members"][0]["online"] is True
        assert [(m["text"], m["author"]["id"]) for m in first["messages"]] == [("hello", host.id)]
        assert first["timer"] is None
        assert second["__typename"] == "StudyRoomSnapshot"
        # When a third user joins, sets a status, says something, leaves, and the host closes the room
        await join_room(gql, late, room["id"])
        await gql.data(SET_STATUS, {"id": room["id"], "s": "  reading   chapter 3 "}, token=member.token)
        said = await gql.data(SEND_MESSAGE, {"id": room["id"], "t": " Anyone\nup? "}, token=member.token)
        await gql.data(LEAVE_ROOM, {"id": room["id"]}, token=late.token)
        await gql.data(CLOSE_ROOM, {"id": room["id"]}, token=host.token)
        # Then both see the same events, numbered one after another from the snapshot's seq
        for sub, snapshot in ((hosting, first), (watching, second)):
            events = [await room_event(sub) for _ in range(5)]
            assert [e["seq"] for e in events] == [snapshot["seq"] + n for n in range(1, 6)]
            assert [e["__typename"] for e in events] == [
                "MemberJoined",
                "MemberStatusChanged",
                "RoomMessagePosted",
                "MemberLeft",
                "RoomClosed",
            ]
            assert events[0]["member"] == {"user": {"id": late.id}, "status": None}
            assert (events[1]["userId"], events[1]["status"]) == (member.id, "reading chapter 3")
            message = events[2]["message"]
            assert (message["id"], message["text"]) == (said["sendStudyRoomMessage"]["id"], "Anyone\nup?")
            assert message["author"] == {"id": member.id, "name": "Mina"}
            assert events[3]["userId"] == late.id
            assert events[4]["closedAt"] is not None
            assert all(e["at"] for e in events)
            # And the stream ends with the room
            assert (await sub.receive())["type"] == "complete"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_non_member_subscription_is_not_found(api_url, gql, protocol: str) -> None:
    host, stranger = await make_account(), await make_account()
    private = await create_room(gql, host, isPublic=False)
    public = await create_room(gql, host)
    for room, token in ((private, stranger.token), (public, stranger.token), (public, None)):
        async with subscription(api_url, protocol, token=token) as sub:
            await sub.start(ROOM_EVENTS, {"id": room["id"]})
            message = await sub.receive()
        errors = message["payload"]["errors"] if message["type"] != "error" else message["payload"]
        assert [e["extensions"]["code"] for e in errors] in (["NOT_FOUND"], ["UNAUTHENTICATED"])
        assert (token is None) == (errors[0]["extensions"]["code"] == "UNAUTHENTICATED")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_api_processes_serve_one_room(api_url, gql, protocol: str) -> None:
    # Given members following one room through two api processes
    host, member = await make_account(), await make_account()
    room = await create_room(gql, host)
    await join_room(gql, member, room["id"])
    async with api_process() as other_url, httpx.AsyncClient(base_url=other_url, timeout=30) as http:
        other = GraphQLClient(http)
        async with (
            following_room(api_url, protocol, host, room["id"]) as here,
            following_room(other_url, protocol, member, room["id"]) as there,
        ):
            base = (await room_event(here))["seq"]
            assert (await room_event(there))["seq"] == base
            # When each says something through the other process
            await other.data(SEND_MESSAGE, {"id": room["id"], "t": "from there"}, token=host.token)
            await gql.data(SEND_MESSAGE, {"id": room["id"], "t": "from here"}, token=member.token)
            # Then both see both messages in one order with the same numbers
            for sub in (here, there):
                events = [await room_event(sub) for _ in range(2)]
                assert [(e["seq"], e["message"]["text"]) for e in events] == [
                    (base + 1, "from there"),
                    (base + 2, "from here"),
                ]
            # And presence held by the second process shows through the first
            seen = (await gql.data(ROOM, {"id": room["id"]}, token=host.token))["studyRoom"]
            assert [m["online"] for m in seen["members"]] == [True, True]


async def test_presence_lapses_when_the_socket_drops(api_url, gql) -> None:
    # Given a member following the room
    host, member = await make_account(), await make_account()
    room = await create_room(gql, host)
    await join_room(gql, member, room["id"])

    async def online() -> list[bool]:
        seen = (await gql.data(ROOM, {"id": room["id"]}, token=host.token))["studyRoom"]
        return [m["online"] for m in seen["members"]]

    async with following_room(api_url, TRANSPORT_WS, member, room["id"]) as sub:
        await room_event(sub)
        assert await online() == [False, True]
        # When their socket drops without a goodbye
        sub.socket.transport.abort()
    # Then they are offline soon after
    for _ in range(100):
        if await online() == [False, False]:
            break
        await asyncio.sleep(0.1)
    assert await online() == [False, False]


async def test_the_snapshot_holds_the_last_fifty_messages_oldest_first(api_url, gql) -> None:
    host = await make_account()
    room = await create_room(gql, host)
    start = utcnow()
    async with transaction() as db:
        for n in range(55):
            db.add(
                StudyRoomMessage(
                    room_id=uuid.UUID(room["id"]),
                    author_id=host.user.id,
                    text=f"m{n}",
                    created_at=start + timedelta(seconds=n),
                )
            )
    async with following_room(api_url, TRANSPORT_WS, host, room["id"]) as sub:
        snapshot = await room_event(sub)
    assert [m["text"] for m in snapshot["messages"]] == [f"m{n}" for n in range(5, 55)]


@pytest.mark.parametrize(
    ("query", "value", "field"),
    [
        (SEND_MESSAGE, "   ", "text"),
        (SEND_MESSAGE, "x" * 501, "text"),
        (SEND_MESSAGE, "bell\x07", "text"),
        (SET_STATUS, "y" * 81, "status"),
    ],
)
async def test_bad_messages_and_statuses_are_refused_and_nothing_is_written(
    gql, query: str, value: str, field: str
) -> None:
    host = await make_account()
    room = await create_room(gql, host)
    variables = {"id": room["id"], "t" if query == SEND_MESSAGE else "s": value}
    error = await gql.error(query, variables, token=host.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await stored_counts() == (1, 1, 0)
    seen = (await gql.data(ROOM, {"id": room["id"]}, token=host.token))["studyRoom"]
    assert seen["members"][0]["status"] is None


async def test_messages_are_rate_limited_per_member_and_refused_to_non_members_and_closed_rooms(gql) -> None:
    # Given a room with two members, and a stranger
    host, member, stranger = await make_account(), await make_account(), await make_account()
    room = await create_room(gql, host)
    await join_room(gql, member, room["id"])
    # When the host sends messages as fast as they can
    started = time.monotonic()
    sent = 0
    for n in range(40):
        body = await gql.execute(SEND_MESSAGE, {"id": room["id"], "t": f"spam {n}"}, token=host.token)
        if body.get("errors"):
            limited = body["errors"][0]
            break
        sent += 1
    elapsed = time.monotonic() - started
    # Then past the burst of ten (and what refilled meanwhile, one a second) they are refused, while the
    # other member still speaks
    assert error_code(limited) == "RATE_LIMITED"
    assert 10 <= sent <= 10 + elapsed + 1
    await gql.data(SEND_MESSAGE, {"id": room["id"], "t": "my turn"}, token=member.token)
    assert await stored_counts() == (1, 2, sent + 1)
    # And a stranger is told the room does not exist, and a closed room takes nothing more
    stranger_error = await gql.error(SEND_MESSAGE, {"id": room["id"], "t": "hi"}, token=stranger.token)
    assert error_code(stranger_error) == "NOT_FOUND"
    await gql.data(CLOSE_ROOM, {"id": room["id"]}, token=host.token)
    closed = await gql.error(SET_STATUS, {"id": room["id"], "s": "done"}, token=member.token)
    assert error_code(closed) == "CONFLICT"
    assert await stored_counts() == (1, 2, sent + 1)
