"""Lectures: the instructor's catalogue entries, and enrolment in them."""

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, Role, require_role, require_user
from core.errors import Conflict, NotFound
from core.pagination import Page, paginate
from core.reads import Db
from models.base import utcnow
from models.classroom import Enrollment, Lecture, LectureRecord, LiveSession, SessionStatus
from resolvers.classroom.access import Action, can_see_lecture, own_lecture
from resolvers.classroom.loaders import LectureTree, lecture_tree, lectures_by_ids
from resolvers.classroom.sessions import control


async def create_lecture(db: AsyncSession, actor: Actor, title: str, description: str | None) -> Lecture:
    instructor = require_role(actor, Role.INSTRUCTOR)
    lecture = Lecture(
        instructor_id=instructor.user_id,
        title=text.required(title, "title", max_length=text.TITLE),
        description=text.clean(description, "description", max_length=text.TEXT, multi_line=True),
    )
    db.add(lecture)
    await db.flush()
    return lecture


async def update_lecture(
    db: AsyncSession, actor: Actor, lecture_id: uuid.UUID, title: str, description: str | None
) -> Lecture:
    lecture = await own_lecture(db, actor, lecture_id)
    lecture.title = text.required(title, "title", max_length=text.TITLE)
    lecture.description = text.clean(description, "description", max_length=text.TEXT, multi_line=True)
    lecture.updated_at = utcnow()
    return lecture


async def archive_lecture(db: AsyncSession, actor: Actor, lecture_id: uuid.UUID) -> Lecture:
    """Withdraws the lecture from the catalogue and ends its open sessions.

    An archived lecture is its owner's alone, so a class of it cannot go on: each open session is ended
    as `endSession` would end it (audited, its code freed, its followers told), and stays readable by its
    participants as review, like any ended session.
    """
    lecture = await own_lecture(db, actor, lecture_id)
    if lecture.is_active:
        lecture.is_active = False
        lecture.updated_at = utcnow()
        open_sessions = await db.scalars(
            select(col(LiveSession.id)).where(
                col(LiveSession.lecture_id) == lecture.id, col(LiveSession.status) != SessionStatus.ENDED
            )
        )
        for session_id in list(open_sessions):
            await control(db, actor, session_id, Action.END)
    return lecture


async def enroll(db: AsyncSession, actor: Actor, lecture_id: uuid.UUID) -> Lecture:
    user = require_user(actor)
    lecture = await get_lecture(db, actor, lecture_id)
    if not lecture.is_active:
        raise Conflict("This lecture is archived")
    await db.execute(
        insert(Enrollment)
        .values(lecture_id=lecture.id, user_id=user.user_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    return lecture


async def get_lecture(db: AsyncSession, actor: Actor, lecture_id: uuid.UUID) -> Lecture:
    lecture = await db.get(Lecture, lecture_id)
    if lecture is None or not can_see_lecture(actor, lecture):
        raise NotFound("Lecture")
    return lecture


async def read_lecture(db: Db, actor: Actor, lecture_id: uuid.UUID) -> LectureRecord:
    """`get_lecture` for a read: a record, without an ORM instance to build and track."""
    (lecture,) = await lectures_by_ids(db, [lecture_id])
    if lecture is None or not can_see_lecture(actor, lecture):
        raise NotFound("Lecture")
    return lecture


async def read_lecture_tree(db: Db, actor: Actor, lecture_id: uuid.UUID) -> LectureTree:
    """`read_lecture` with its instructor, tasks and live steps, in one statement."""
    tree = await lecture_tree(db, lecture_id)
    if tree is None or not can_see_lecture(actor, tree.lecture):
        raise NotFound("Lecture")
    return tree


async def list_lectures(
    db: AsyncSession, actor: Actor, *, mine: bool, first: int | None, after: str | None
) -> Page[Lecture]:
    statement = select(Lecture)
    if mine:
        statement = statement.where(col(Lecture.instructor_id) == require_user(actor).user_id)
    else:
        statement = statement.where(col(Lecture.is_active).is_(True))
    keys = [col(Lecture.created_at), col(Lecture.id)]
    return await paginate(db, statement, keys, first=first, after=after)
