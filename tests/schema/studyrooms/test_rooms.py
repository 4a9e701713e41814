"""Study rooms: created by anyone signed in, found when public, joined up to capacity (also under a race),
secret to non-members, left and closed."""

import asyncio
import uuid

import pytest

from core.auth import UserActor
from core.db import transaction
from core.errors import Conflict
from resolvers.studyrooms import rooms
from tests.helpers.client import error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import Account, make_account
from tests.helpers.study import make_subject
from tests.helpers.studyrooms import (
    CLOSE_ROOM,
    CREATE_ROOM,
    JOIN_ROOM,
    LEAVE_ROOM,
    ROOM,
    ROOMS,
    create_room,
    join_room,
    stored_counts,
)


def actor(account: Account) -> UserActor:
    return UserActor(account.user.id, account.user.role)


async def test_the_creator_hosts_a_cleaned_public_room_with_the_defaults(gql) -> None:
    # Given a student
    host = await make_account(name="Park Ji-ho")
    # When they create a room with a padded name and nothing else
    room = await create_room(gql, host, name="  Night   owls  ")
    # Then it is public, for 8, open, hosted by them, with them as its only member
    assert room["name"] == "Night owls"
    assert (room["isPublic"], room["capacity"], room["inviteCode"], room["closedAt"]) == (True, 8, None, None)
    assert room["host"] == {"id": host.id}
    assert room["subject"] is None
    assert [(m["user"]["id"], m["online"], m["status"], m["focusSeconds"]) for m in room["members"]] == [
        (host.id, False, None, 0)
    ]


async def test_a_private_room_shows_its_invite_code_to_the_host_alone(gql) -> None:
    # Given a private room about a subject, and a member who joined with its code
    subject = await make_subject("Chemistry")
    host, member = await make_account(), await make_account()
    created = await create_room(gql, host, isPublic=False, capacity=3, subjectId=str(subject.id))
    code = created["inviteCode"]
    # When the host and the member read it
    joined = await join_room(gql, member, created["id"], code)
    as_host = (await gql.data(ROOM, {"id": created["id"]}, token=host.token))["studyRoom"]
    # Then only the host sees the code
    assert isinstance(code, str) and len(code) >= 12
    assert as_host["inviteCode"] == code
    assert joined["inviteCode"] is None
    assert as_host["subject"] == {"id": str(subject.id), "name": "Chemistry"}
    assert [m["user"]["id"] for m in as_host["members"]] == [host.id, member.id]


@pytest.mark.parametrize(
    ("room_input", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Bell\x07"}, "name"),
        ({"name": "Room", "capacity": 1}, "capacity"),
        ({"name": "Room", "capacity": 51}, "capacity"),
        ({"name": "Room", "subjectId": str(uuid.uuid4())}, "subjectId"),
        ({"name": "Room", "subjectId": "not-an-id"}, "subjectId"),
    ],
)
async def test_bad_room_input_is_refused_with_its_field_and_nothing_is_written(
    gql, room_input: dict[str, object], field: str
) -> None:
    host = await make_account()
    error = await gql.error(CREATE_ROOM, {"input": room_input}, token=host.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await stored_counts() == (0, 0, 0)


async def test_signing_in_is_required(gql) -> None:
    error = await gql.error(CREATE_ROOM, {"input": {"name": "Room"}})
    assert error_code(error) == "UNAUTHENTICATED"
    assert await stored_counts() == (0, 0, 0)


async def test_the_listing_holds_open_public_rooms_newest_first_by_subject_and_in_pages(gql) -> None:
    # Given public rooms of two subjects, a private one and a closed one
    biology, physics = await make_subject("Biology"), await make_subject("Physics")
    host, reader = await make_account(), await make_account()
    first = await create_room(gql, host, name="Cells", subjectId=str(biology.id))
    second = await create_room(gql, host, name="Forces", subjectId=str(physics.id))
    third = await create_room(gql, host, name="Genes", subjectId=str(biology.id))
    await create_room(gql, host, name="Secret", isPublic=False)
    closed = await create_room(gql, host, name="Over")
    await gql.data(CLOSE_ROOM, {"id": closed["id"]}, token=host.token)
    # When a non-member lists them, all, by subject, and two at a time
    every = (await gql.data(ROOMS, token=reader.token))["studyRooms"]
    of_biology = (await gql.data(ROOMS, {"subjectId": str(biology.id)}, token=reader.token))["studyRooms"]
    page = (await gql.data(ROOMS, {"first": 2}, token=reader.token))["studyRooms"]
    rest = (await gql.data(ROOMS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=reader.token))[
        "studyRooms"
    ]
    # Then only the open public rooms show, newest first
    names = [edge["node"]["name"] for edge in every["edges"]]
    assert names == ["Genes", "Forces", "Cells"]
    assert [edge["node"]["id"] for edge in of_biology["edges"]] == [third["id"], first["id"]]
    assert [edge["node"]["id"] for edge in page["edges"]] == [third["id"], second["id"]]
    assert page["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["id"] for edge in rest["edges"]] == [first["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_a_room_is_not_found_to_non_members_and_a_wrong_invite_code_reveals_nothing(gql) -> None:
    # Given a public and a private room
    host, stranger = await make_account(), await make_account()
    public = await create_room(gql, host, name="Open")
    private = await create_room(gql, host, name="Closed door", isPublic=False)
    # When a stranger reads them, or joins the private one without or with a wrong code
    reads = [await gql.error(ROOM, {"id": room["id"]}, token=stranger.token) for room in (public, private)]
    joins = [
        await gql.error(JOIN_ROOM, {"id": private["id"], "code": code}, token=stranger.token)
        for code in (None, "wrong-code", private["inviteCode"] + "x")
    ]
    unknown = await gql.error(JOIN_ROOM, {"id": str(uuid.uuid4())}, token=stranger.token)
    # Then every answer is NOT_FOUND, the same as for a room that does not exist, and nothing is written
    assert {error_code(error) for error in [*reads, *joins, unknown]} == {"NOT_FOUND"}
    assert {error["message"] for error in [*joins, unknown]} == {"Study room not found"}
    assert await stored_counts() == (2, 2, 0)


async def test_a_full_room_and_a_closed_room_answer_conflict(gql) -> None:
    # Given a room for two with its host and one member, and a closed room
    host, member, late = await make_account(), await make_account(), await make_account()
    small = await create_room(gql, host, capacity=2)
    await join_room(gql, member, small["id"])
    closed = await create_room(gql, host)
    await gql.data(CLOSE_ROOM, {"id": closed["id"]}, token=host.token)
    # When a third user joins either
    full = await gql.error(JOIN_ROOM, {"id": small["id"]}, token=late.token)
    over = await gql.error(JOIN_ROOM, {"id": closed["id"]}, token=late.token)
    # Then both answer CONFLICT and no member is added
    assert (error_code(full), error_code(over)) == ("CONFLICT", "CONFLICT")
    assert await stored_counts() == (2, 3, 0)
    # And a member's second join changes nothing
    again = await join_room(gql, member, small["id"])
    assert len(again["members"]) == 2


async def test_fifty_racing_joins_fill_a_room_of_eight_with_exactly_seven(gql) -> None:
    # Given a room for eight and fifty users
    host = await make_account()
    room = await create_room(gql, host, capacity=8)
    room_id = uuid.UUID(room["id"])
    joiners = [await make_account(email=f"racer-{n}@example.com") for n in range(50)]

    async def join(account: Account) -> bool:
        try:
            async with transaction() as db:
                await rooms.join_room(db, actor(account), room_id, None)
        except Conflict:
            return False
        return True

    # When they all join at once
    admitted = await asyncio.gather(*(join(account) for account in joiners))
    # Then exactly seven get in besides the host
    assert sum(admitted) == 7
    members = (await gql.data(ROOM, {"id": room["id"]}, token=host.token))["studyRoom"]["members"]
    assert len(members) == 8


async def test_members_leave_the_host_closes_and_only_the_host_may(gql) -> None:
    # Given a room with its host and two members
    host, first, second = await make_account(), await make_account(), await make_account()
    room = await create_room(gql, host)
    await join_room(gql, first, room["id"])
    await join_room(gql, second, room["id"])
    # When one member leaves and the other tries to close the room
    left = await gql.data(LEAVE_ROOM, {"id": room["id"]}, token=first.token)
    refused = await gql.error(CLOSE_ROOM, {"id": room["id"]}, token=second.token)
    gone = await gql.error(ROOM, {"id": room["id"]}, token=first.token)
    # Then the leaver is no longer a member, and closing is the host's
    assert left == {"leaveStudyRoom": True}
    assert error_code(refused) == "FORBIDDEN"
    assert error_code(gone) == "NOT_FOUND"
    # When the host closes it
    closed = (await gql.data(CLOSE_ROOM, {"id": room["id"]}, token=host.token))["closeStudyRoom"]
    # Then it is closed, shown to its remaining members, and no longer listed
    assert closed["closedAt"] is not None
    assert [m["user"]["id"] for m in closed["members"]] == [host.id, second.id]
    seen = (await gql.data(ROOM, {"id": room["id"]}, token=second.token))["studyRoom"]
    assert seen["closedAt"] == closed["closedAt"]
    assert (await gql.data(ROOMS, token=second.token))["studyRooms"]["edges"] == []
    # And the leaver may come back only while the room was open
    assert error_code(await gql.error(JOIN_ROOM, {"id": room["id"]}, token=first.token)) == "CONFLICT"


async def test_the_hosts_leaving_closes_the_room(gql) -> None:
    host, member = await make_account(), await make_account()
    room = await create_room(gql, host)
    await join_room(gql, member, room["id"])
    await gql.data(LEAVE_ROOM, {"id": room["id"]}, token=host.token)
    seen = (await gql.data(ROOM, {"id": room["id"]}, token=member.token))["studyRoom"]
    assert seen["closedAt"] is not None
    assert [m["user"]["id"] for m in seen["members"]] == [member.id]


async def test_listing_rooms_with_their_members_costs_the_same_statements_for_two_rooms_or_six(gql) -> None:
    # Given two rooms, each with its host and a member
    reader = await make_account()
    for n in range(2):
        host, member = await make_account(), await make_account()
        room = await create_room(gql, host, name=f"Room {n}")
        await join_room(gql, member, room["id"])
    with count_queries() as few:
        two = (await gql.data(ROOMS, token=reader.token))["studyRooms"]["edges"]
    # And four more
    for n in range(4):
        host, member = await make_account(), await make_account()
        room = await create_room(gql, host, name=f"More {n}")
        await join_room(gql, member, room["id"])
    with count_queries() as many:
        six = (await gql.data(ROOMS, token=reader.token))["studyRooms"]["edges"]
    # Then the members and their users cost the same statements either way
    assert (len(two), len(six)) == (2, 6)
    assert all(len(edge["node"]["members"]) == 2 for edge in six)
    assert len(few) == len(many) == 3
