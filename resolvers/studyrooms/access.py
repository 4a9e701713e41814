"""Who may see a study room: its current members. To anyone else it is NOT_FOUND, so a private room
does not reveal that it exists."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor, UserActor, require_user
from core.errors import Conflict, NotFound
from models.studyrooms import StudyRoom, StudyRoomMember

ROOM = "Study room"


async def current_membership(
    db: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
) -> StudyRoomMember | None:
    member = await db.get(StudyRoomMember, (room_id, user_id))
    return member if member is not None and member.left_at is None else None


async def member_room(
    db: AsyncSession, actor: Actor, room_id: uuid.UUID, *, lock: bool = False
) -> tuple[UserActor, StudyRoom]:
    """The room, for one of its current members; NOT_FOUND to everyone else."""
    user = require_user(actor)
    room = await db.get(StudyRoom, room_id, with_for_update=lock)
    if room is None or await current_membership(db, room_id, user.user_id) is None:
        raise NotFound(ROOM)
    return user, room


async def open_member_room(
    db: AsyncSession, actor: Actor, room_id: uuid.UUID, *, lock: bool = False
) -> tuple[UserActor, StudyRoom, StudyRoomMember]:
    """The open room and the actor's membership, for something only a member of an open room does."""
    user, room = await member_room(db, actor, room_id, lock=lock)
    if room.closed_at is not None:
        raise Conflict("This study room is closed")
    member = await current_membership(db, room_id, user.user_id)
    assert member is not None
    return user, room, member
