"""Batch reads behind the study-room DataLoaders: one statement per batch, answers in key order."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import grouped_by_key
from models.studyrooms import StudyRoomMember


async def current_members(db: AsyncSession, room_ids: list[uuid.UUID]) -> list[list[StudyRoomMember]]:
    """Each room's current members, in the order they joined."""
    statement = (
        select(StudyRoomMember)
        .where(col(StudyRoomMember.room_id).in_(room_ids), col(StudyRoomMember.left_at).is_(None))
        .order_by(col(StudyRoomMember.joined_at), col(StudyRoomMember.user_id))
    )
    rows = (await db.execute(statement)).scalars()
    return grouped_by_key(room_ids, rows, lambda member: member.room_id)
