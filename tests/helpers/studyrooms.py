"""What the study-room tests share: rooms made and joined through the real mutations."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from core.auth import Role, UserActor, hash_password, issue_access_token
from core.db import read_session, transaction
from models.accounts import User
from models.studyrooms import StudyRoom, StudyRoomMember, StudyRoomMessage
from resolvers.studyrooms import rooms
from tests.helpers.client import GraphQLClient, Subscription, subscription
from tests.helpers.factories import PASSWORD, Account

ROOM_FIELDS = (
    "id name isPublic capacity inviteCode createdAt closedAt subject { id name } host { id } "
    "timer { phase endsAt round } "
    "members { user { id name } online status focusSeconds joinedAt }"
)
CREATE_ROOM = f"mutation($input: StudyRoomInput!) {{ createStudyRoom(input: $input) {{ {ROOM_FIELDS} }} }}"
JOIN_ROOM = f"""
mutation($id: ID!, $code: String) {{ joinStudyRoom(id: $id, inviteCode: $code) {{ {ROOM_FIELDS} }} }}"""
LEAVE_ROOM = "mutation($id: ID!) { leaveStudyRoom(id: $id) }"
CLOSE_ROOM = f"mutation($id: ID!) {{ closeStudyRoom(id: $id) {{ {ROOM_FIELDS} }} }}"
ROOM = f"query($id: ID!) {{ studyRoom(id: $id) {{ {ROOM_FIELDS} }} }}"
ROOMS = """
query($subjectId: ID, $first: Int, $after: String) {
  studyRooms(subjectId: $subjectId, first: $first, after: $after) {
    edges { cursor node { id name members { user { name } } } } pageInfo { hasNextPage endCursor } } }"""


async def create_room(gql: GraphQLClient, host: Account, **room_input: Any) -> dict[str, Any]:
    room: dict[str, Any] = (
        await gql.data(CREATE_ROOM, {"input": {"name": "Night owls", **room_input}}, token=host.token)
    )["createStudyRoom"]
    return room


async def join_room(
    gql: GraphQLClient, member: Account, room_id: str, code: str | None = None
) -> dict[str, Any]:
    room: dict[str, Any] = (await gql.data(JOIN_ROOM, {"id": room_id, "code": code}, token=member.token))[
        "joinStudyRoom"
    ]
    return room


async def seat_members(room_id: str, count: int) -> list[Account]:
    """`count` new users joined to the room in one transaction, sharing one password hash (registering one
    by one is argon2-bound, and not what a test of many members is about)."""
    password_hash = await hash_password(PASSWORD)
    users = [
        User(email=f"member-{uuid.uuid4().hex[:12]}@example.com", password_hash=password_hash, name=f"M{n}")
        for n in range(count)
    ]
    async with transaction() as db:
        db.add_all(users)
        await db.flush()
        for user in users:
            await rooms.join_room(db, UserActor(user.id, Role.STUDENT), uuid.UUID(room_id), None)
    return [Account(user=user, token=issue_access_token(user.id, Role.STUDENT)[0]) for user in users]


async def stored_counts() -> tuple[int, int, int]:
    """How many rooms, member rows and messages are stored."""
    async with read_session() as db:
        counts = [
            (await db.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (StudyRoom, StudyRoomMember, StudyRoomMessage)
        ]
    return counts[0], counts[1], counts[2]


ROOM_EVENTS = """
subscription($id: ID!) { studyRoomEvents(roomId: $id) {
  __typename
  ... on StudyRoomSnapshot { seq at room { id name closedAt } members { user { id } online status }
                             timer { phase endsAt round } messages { id text author { id } } }
  ... on MemberJoined { seq at member { user { id } status } }
  ... on MemberLeft { seq at userId }
  ... on MemberStatusChanged { seq at userId status }
  ... on RoomMessagePosted { seq at message { id text author { id name } createdAt } }
  ... on TimerChanged { seq at timer { phase endsAt round } }
  ... on RoomClosed { seq at closedAt }
} }"""
SET_STATUS = "mutation($id: ID!, $s: String!) { setStudyStatus(roomId: $id, status: $s) }"
SEND_MESSAGE = """
mutation($id: ID!, $t: String!) {
  sendStudyRoomMessage(roomId: $id, text: $t) { id text createdAt author { id } } }"""


async def room_event(sub: Subscription) -> dict[str, Any]:
    """The next event; generous with time, since the machine running the tests may be busy."""
    data: dict[str, Any] = (await sub.next_data(timeout=15))["studyRoomEvents"]
    return data


@asynccontextmanager
async def following_room(
    api_url: str, protocol: str, account: Account, room_id: str
) -> AsyncIterator[Subscription]:
    async with subscription(api_url, protocol, token=account.token) as sub:
        await sub.start(ROOM_EVENTS, {"id": room_id})
        yield sub
