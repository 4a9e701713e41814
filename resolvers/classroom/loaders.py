"""Batch reads behind the DataLoaders: one statement per batch, answers in the order of the keys."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import grouped_by_key, in_key_order, is_one_of, record_select, records, rows_by_ids
from models.classroom import (
    Enrollment,
    LectureRecord,
    LiveSession,
    Participant,
    Step,
    StepProgress,
    StepRecord,
    Task,
    TaskRecord,
)
from models.classroom import Lecture as LectureRow

# The lecture → task → step loaders serve every read of the tree, so they load records with Core (see
# models.classroom.LectureRecord); mutations load ORM rows through live_steps and friends.
_LECTURES = record_select(LectureRecord._fields, LectureRow)
_TASKS = record_select(TaskRecord._fields, Task)
_STEPS = record_select(StepRecord._fields, Step)


async def lectures_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[LectureRecord | None]:
    found = await records(db, LectureRecord, _LECTURES.where(is_one_of(LectureRow.id, ids)))
    return in_key_order(ids, found, lambda row: row.id)


async def steps_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[StepRecord | None]:
    """Removed steps too: progress and help requests keep pointing at them."""
    found = await records(db, StepRecord, _STEPS.where(is_one_of(Step.id, ids)))
    return in_key_order(ids, found, lambda row: row.id)


async def participants_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[Participant | None]:
    return await rows_by_ids(db, Participant, ids)


async def tasks_by_lecture(db: AsyncSession, lecture_ids: list[uuid.UUID]) -> list[list[TaskRecord]]:
    statement = _TASKS.where(is_one_of(Task.lecture_id, lecture_ids)).order_by(
        col(Task.created_at), col(Task.id)
    )
    return grouped_by_key(lecture_ids, await records(db, TaskRecord, statement), lambda row: row.lecture_id)


async def live_steps_by_task(db: AsyncSession, task_ids: list[uuid.UUID]) -> list[list[StepRecord]]:
    statement = _STEPS.where(is_one_of(Step.task_id, task_ids), col(Step.removed_at).is_(None)).order_by(
        col(Step.position)
    )
    return grouped_by_key(task_ids, await records(db, StepRecord, statement), lambda row: row.task_id)


async def tasks_with_live_steps_by_lecture(
    db: AsyncSession, lecture_ids: list[uuid.UUID]
) -> list[list[tuple[TaskRecord, list[StepRecord]]]]:
    """Each lecture's tasks with their live steps: the two statements of `tasks_by_lecture` and
    `live_steps_by_task`, in one session, for a read that wants both."""
    tasks_of_lectures = await tasks_by_lecture(db, lecture_ids)
    task_ids = [task.id for tasks in tasks_of_lectures for task in tasks]
    steps = iter(await live_steps_by_task(db, task_ids) if task_ids else [])
    return [[(task, next(steps)) for task in tasks] for tasks in tasks_of_lectures]


async def live_steps(db: AsyncSession, task_id: uuid.UUID) -> list[Step]:
    """The task's steps in order, removed ones left out, as ORM rows that a mutation may change."""
    statement = (
        select(Step)
        .where(col(Step.task_id) == task_id, col(Step.removed_at).is_(None))
        .order_by(col(Step.position))
    )
    return list((await db.execute(statement)).scalars())


async def enrolled_counts(db: AsyncSession, lecture_ids: list[uuid.UUID]) -> list[int]:
    statement = (
        select(col(Enrollment.lecture_id), func.count())
        .where(col(Enrollment.lecture_id).in_(lecture_ids))
        .group_by(col(Enrollment.lecture_id))
    )
    counts: dict[uuid.UUID, int] = {lecture_id: count for lecture_id, count in await db.execute(statement)}
    return [counts.get(i, 0) for i in lecture_ids]


async def sessions_by_lecture(db: AsyncSession, lecture_ids: list[uuid.UUID]) -> list[list[LiveSession]]:
    statement = (
        select(LiveSession)
        .where(col(LiveSession.lecture_id).in_(lecture_ids))
        .order_by(col(LiveSession.created_at).desc())
    )
    return grouped_by_key(lecture_ids, (await db.execute(statement)).scalars(), lambda row: row.lecture_id)


async def participants_by_session(db: AsyncSession, session_ids: list[uuid.UUID]) -> list[list[Participant]]:
    statement = (
        select(Participant)
        .where(col(Participant.session_id).in_(session_ids))
        .order_by(col(Participant.joined_at), col(Participant.id))
    )
    return grouped_by_key(session_ids, (await db.execute(statement)).scalars(), lambda row: row.session_id)


async def progress_by_participant(
    db: AsyncSession, participant_ids: list[uuid.UUID]
) -> list[list[StepProgress]]:
    statement = (
        select(StepProgress)
        .where(col(StepProgress.participant_id).in_(participant_ids))
        .order_by(col(StepProgress.started_at))
    )
    rows = (await db.execute(statement)).scalars()
    return grouped_by_key(participant_ids, rows, lambda row: row.participant_id)
