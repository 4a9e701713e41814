"""Study rooms: any signed-in user creates one and hosts it; others join public rooms, or private ones
with the host's invite code, up to the room's capacity.

Secrecy: to anyone but a current member a room is NOT_FOUND (a private room does not reveal it exists),
and a wrong invite code answers NOT_FOUND too, so guessing codes tells nothing about which rooms exist.
Capacity holds under concurrent joins because every join locks the room row before counting members.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, UserActor, require_user
from core.errors import BadInput, Conflict, Forbidden, NotFound
from core.pagination import Page, paginate
from models.base import utcnow
from models.study import Subject
from models.studyrooms import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    MIN_CAPACITY,
    ROOM_NAME_LENGTH,
    StudyRoom,
    StudyRoomMember,
)
from resolvers.studyrooms import focus, live
from resolvers.studyrooms.access import ROOM, current_membership, member_room
from resolvers.studyrooms.loaders import current_members

NO_SUCH_SUBJECT = "No such subject"
# 12 URL-safe characters, 72 bits: far beyond guessing.
INVITE_CODE_BYTES = 9


@dataclass(frozen=True)
class RoomDraft:
    name: str
    subject_id: uuid.UUID | None = None
    is_public: bool | None = None
    capacity: int | None = None


def _capacity(capacity: int | None) -> int:
    if capacity is None:
        return DEFAULT_CAPACITY
    if not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
        raise BadInput(f"capacity must be between {MIN_CAPACITY} and {MAX_CAPACITY}", field="capacity")
    return capacity


async def create_room(db: AsyncSession, actor: Actor, draft: RoomDraft) -> StudyRoom:
    user = require_user(actor)
    name = text.clean(draft.name, "name", max_length=ROOM_NAME_LENGTH, required=True, collapse_spaces=True)
    assert name is not None
    capacity = _capacity(draft.capacity)
    if draft.subject_id is not None and await db.get(Subject, draft.subject_id) is None:
        raise BadInput(NO_SUCH_SUBJECT, field="subjectId")
    is_public = True if draft.is_public is None else draft.is_public
    room = StudyRoom(
        name=name,
        subject_id=draft.subject_id,
        host_id=user.user_id,
        is_public=is_public,
        capacity=capacity,
        invite_code=None if is_public else secrets.token_urlsafe(INVITE_CODE_BYTES),
    )
    db.add(room)
    await db.flush()
    db.add(StudyRoomMember(room_id=room.id, user_id=user.user_id, joined_at=room.created_at))
    await db.flush()
    return room


async def get_room(db: AsyncSession, actor: Actor, room_id: uuid.UUID) -> StudyRoom:
    _, room = await member_room(db, actor, room_id)
    return room


async def list_open_rooms(
    db: AsyncSession,
    actor: Actor,
    *,
    subject_id: uuid.UUID | None,
    first: int | None,
    after: str | None,
) -> Page[StudyRoom]:
    """Open public rooms, newest first, optionally of one subject."""
    require_user(actor)
    statement = select(StudyRoom).where(col(StudyRoom.is_public), col(StudyRoom.closed_at).is_(None))
    if subject_id is not None:
        statement = statement.where(col(StudyRoom.subject_id) == subject_id)
    keys = [col(StudyRoom.created_at), col(StudyRoom.id)]
    return await paginate(db, statement, keys, first=first, after=after)


async def _member_count(db: AsyncSession, room_id: uuid.UUID) -> int:
    statement = select(func.count()).where(
        col(StudyRoomMember.room_id) == room_id, col(StudyRoomMember.left_at).is_(None)
    )
    return int((await db.execute(statement)).scalar_one())


def _invited(room: StudyRoom, invite_code: str | None) -> bool:
    if room.is_public:
        return True
    return (
        invite_code is not None
        and room.invite_code is not None
        and secrets.compare_digest(invite_code.strip().encode(), room.invite_code.encode())
    )


async def join_room(
    db: AsyncSession, actor: Actor, room_id: uuid.UUID, invite_code: str | None
) -> tuple[StudyRoom, bool]:
    """The room and whether the actor newly joined it (a current member's join changes nothing).

    The room row is locked first, so concurrent joins count members one after another."""
    user = require_user(actor)
    room = await db.get(StudyRoom, room_id, with_for_update=True)
    if room is None:
        raise NotFound(ROOM)
    member = await db.get(StudyRoomMember, (room_id, user.user_id))
    if member is not None and member.left_at is None:
        return room, False
    if not _invited(room, invite_code):
        raise NotFound(ROOM)
    if room.closed_at is not None:
        raise Conflict("This study room is closed")
    if await _member_count(db, room_id) >= room.capacity:
        raise Conflict("This study room is full")
    if member is None:
        member = StudyRoomMember(room_id=room_id, user_id=user.user_id)
        db.add(member)
    else:
        member.joined_at = utcnow()
        # A new member-session: its focus time counts (and is recorded) afresh.
        member.left_at = None
        member.status = None
        member.focus_seconds = 0
    await db.flush()
    live.emit(db, room_id, live.MemberJoined(member=live.MemberView.of(member)))
    return room, True


async def _end_member_session(
    db: AsyncSession, room: StudyRoom, member: StudyRoomMember, now: datetime
) -> None:
    await focus.settle_open_span(room, member, now)
    await focus.record_session(db, room, member, now)


async def _close(db: AsyncSession, room: StudyRoom, now: datetime) -> None:
    """Ends every current member's session (their focus time recorded) and closes the room."""
    (members,) = await current_members(db, [room.id])
    for member in members:
        await _end_member_session(db, room, member, now)
    room.closed_at = now
    await db.flush()
    live.emit(db, room.id, live.RoomClosed(closed_at=now))


async def leave_room(db: AsyncSession, actor: Actor, room_id: uuid.UUID) -> tuple[StudyRoom, StudyRoomMember]:
    """The host's leaving closes the room: a room without its host could never be closed or timed."""
    user, room = await member_room(db, actor, room_id, lock=True)
    member = await current_membership(db, room_id, user.user_id)
    assert member is not None
    now = utcnow()
    await _end_member_session(db, room, member, now)
    member.left_at = now
    await db.flush()
    live.emit(db, room_id, live.MemberLeft(user_id=user.user_id))
    if room.host_id == user.user_id and room.closed_at is None:
        await _close(db, room, now)
    return room, member


async def close_room(db: AsyncSession, actor: Actor, room_id: uuid.UUID) -> tuple[StudyRoom, bool]:
    """The room and whether this call closed it (closing a closed room changes nothing)."""
    user, room = await member_room(db, actor, room_id, lock=True)
    if room.host_id != user.user_id:
        raise Forbidden("Only the host closes a study room")
    if room.closed_at is not None:
        return room, False
    await _close(db, room, utcnow())
    return room, True


def visible_invite_code(actor: Actor, room: StudyRoom) -> str | None:
    return room.invite_code if isinstance(actor, UserActor) and actor.user_id == room.host_id else None
