"""studyRoomEvents after the snapshot: executed once per cohort and audience and sent as one frame, over
real websockets in both protocols; a member's own email stays theirs, and leaving ends only the leaver's
stream."""

import json
from contextlib import AsyncExitStack
from typing import Any

from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, Subscription
from tests.helpers.factories import make_account
from tests.helpers.fanout import executions, next_frame, phones
from tests.helpers.studyrooms import (
    LEAVE_ROOM,
    ROOM_EVENTS,
    SEND_MESSAGE,
    SET_STATUS,
    create_room,
    following_room,
    room_event,
    seat_members,
)

BOTH = (TRANSPORT_WS, LEGACY_WS)
MEMBERS = 40
AUTHORS = """
subscription($id: ID!) { studyRoomEvents(roomId: $id) {
  __typename ... on StudyRoomSnapshot { seq }
  ... on RoomMessagePosted { seq message { text author { id email } } } } }"""


def event_of(frame: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(frame)["payload"]["data"]["studyRoomEvents"]
    return data


async def frames_of(subs: list[Subscription]) -> list[str]:
    return [await next_frame(sub) for sub in subs]


async def test_identical_member_subscriptions_cost_one_execution_per_change(api_url, gql) -> None:
    # Given a room whose members all follow it with one document, in both protocols, and one who does not
    host = await make_account(name="Host")
    room = await create_room(gql, host, capacity=MEMBERS + 2)
    *followers, quiet = await seat_members(room["id"], MEMBERS + 1)
    async with phones(api_url, [m.token for m in followers], BOTH, ROOM_EVENTS, {"id": room["id"]}) as subs:
        statuses = executions("studyRoomEvents", "MemberStatusChanged")
        messages = executions("studyRoomEvents", "RoomMessagePosted")
        # When the quiet member sets a status and says something
        await gql.data(SET_STATUS, {"id": room["id"], "s": "reading"}, token=quiet.token)
        await gql.data(SEND_MESSAGE, {"id": room["id"], "t": "hi all"}, token=quiet.token)
        # Then every follower gets both, numbered without gaps, in one identical frame per protocol
        for kind in ("MemberStatusChanged", "RoomMessagePosted"):
            frames = await frames_of(subs)
            events = [event_of(frame) for frame in frames]
            assert {e["__typename"] for e in events} == {kind}
            assert len({e["seq"] for e in events}) == 1
            assert len(set(frames)) == len(BOTH)
        # And each change ran once for all of them
        assert executions("studyRoomEvents", "MemberStatusChanged") - statuses == 1
        assert executions("studyRoomEvents", "RoomMessagePosted") - messages == 1


async def test_a_message_runs_once_for_the_room_and_once_for_its_author(api_url, gql) -> None:
    # Given a room whose members follow it with one document, in both protocols
    host = await make_account(name="Host")
    room = await create_room(gql, host, capacity=MEMBERS + 2)
    members = await seat_members(room["id"], MEMBERS)
    async with phones(api_url, [m.token for m in members], BOTH, AUTHORS, {"id": room["id"]}) as subs:
        before = executions("studyRoomEvents", "RoomMessagePosted")
        # When one of them writes
        author = members[3]
        await gql.data(SEND_MESSAGE, {"id": room["id"], "t": "who is up?"}, token=author.token)
        # Then the author sees their own email, and every other member the empty string
        seen = [event_of(frame)["message"]["author"] for frame in await frames_of(subs)]
        assert seen[3] == {"id": author.id, "email": author.user.email}
        assert {json.dumps(a) for n, a in enumerate(seen) if n != 3} == {
            json.dumps({"id": author.id, "email": ""})
        }
        # And the selection ran twice: for the room, and for its author alone
        assert executions("studyRoomEvents", "RoomMessagePosted") - before == 2


async def test_leaving_ends_only_the_leavers_subscription(api_url, gql) -> None:
    host = await make_account(name="Host")
    room = await create_room(gql, host)
    stayer, leaver = await seat_members(room["id"], 2)
    async with AsyncExitStack() as stack:
        subs = {
            who: await stack.enter_async_context(following_room(api_url, protocol, account, room["id"]))
            for who, protocol, account in (("stayer", TRANSPORT_WS, stayer), ("leaver", LEGACY_WS, leaver))
        }
        for sub in subs.values():
            assert (await room_event(sub))["__typename"] == "StudyRoomSnapshot"
        # When one of them leaves, and the other then sets a status
        await gql.data(LEAVE_ROOM, {"id": room["id"]}, token=leaver.token)
        await gql.data(SET_STATUS, {"id": room["id"], "s": "still here"}, token=stayer.token)
        # Then the leaver's stream ends after its own MemberLeft
        left = await room_event(subs["leaver"])
        assert (left["__typename"], left["userId"]) == ("MemberLeft", leaver.id)
        assert (await subs["leaver"].receive(timeout=15))["type"] == "complete"
        # And the other member sees them leave and goes on
        assert (await room_event(subs["stayer"]))["userId"] == leaver.id
        status = await room_event(subs["stayer"])
        assert (status["__typename"], status["status"]) == ("MemberStatusChanged", "still here")
