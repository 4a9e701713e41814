"""What members say in a room: their status line and their messages."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core import text
from core.auth import Actor
from core.ratelimit import STUDY_ROOM_MESSAGES
from models.studyrooms import MESSAGE_LENGTH, STATUS_LENGTH, StudyRoomMessage
from resolvers.studyrooms import live
from resolvers.studyrooms.access import open_member_room


async def set_status(db: AsyncSession, actor: Actor, room_id: uuid.UUID, status: str) -> None:
    """An empty status clears it."""
    cleaned = text.clean(status, "status", max_length=STATUS_LENGTH, collapse_spaces=True)
    user, _, member = await open_member_room(db, actor, room_id)
    member.status = cleaned
    await db.flush()
    live.emit(db, room_id, live.MemberStatusChanged(user_id=user.user_id, status=cleaned))


async def send_message(db: AsyncSession, actor: Actor, room_id: uuid.UUID, message: str) -> StudyRoomMessage:
    cleaned = text.required(message, "text", max_length=MESSAGE_LENGTH, multi_line=True)
    user, _, _ = await open_member_room(db, actor, room_id)
    await STUDY_ROOM_MESSAGES.enter(f"{room_id}:{user.user_id}")
    posted = StudyRoomMessage(room_id=room_id, author_id=user.user_id, text=cleaned)
    db.add(posted)
    await db.flush()
    live.emit(db, room_id, live.RoomMessagePosted(message=live.MessageView.of(posted)))
    return posted
