"""Batch reads behind the DataLoaders: one statement per batch, answers in the order of the keys."""

import uuid
from itertools import accumulate
from typing import NamedTuple

from sqlalchemy import Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import grouped_by_key, in_key_order, rows_by_ids
from core.reads import Db, Read, any_of, record_select
from models.accounts import User, UserRecord
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

# The lecture → task → step loaders serve every read of the tree, so they load records (see
# models.classroom.LectureRecord) through core.reads; mutations load ORM rows through live_steps and friends.
_LECTURES = Read(
    LectureRecord, record_select(LectureRecord._fields, LectureRow).where(any_of(LectureRow.id, "ids"))
)
_STEPS = Read(StepRecord, record_select(StepRecord._fields, Step).where(any_of(Step.id, "ids")))
_TASKS_OF_LECTURES = Read(
    TaskRecord,
    record_select(TaskRecord._fields, Task)
    .where(any_of(Task.lecture_id, "ids"))
    .order_by(col(Task.created_at), col(Task.id)),
)
_LIVE_STEPS_OF_TASKS = Read(
    StepRecord,
    record_select(StepRecord._fields, Step)
    .where(any_of(Step.task_id, "ids"), col(Step.removed_at).is_(None))
    .order_by(col(Step.position)),
)


async def lectures_by_ids(db: Db, ids: list[uuid.UUID]) -> list[LectureRecord | None]:
    return in_key_order(ids, await _LECTURES.all(db, ids=ids), lambda row: row.id)


async def steps_by_ids(db: Db, ids: list[uuid.UUID]) -> list[StepRecord | None]:
    """Removed steps too: progress and help requests keep pointing at them."""
    return in_key_order(ids, await _STEPS.all(db, ids=ids), lambda row: row.id)


async def participants_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[Participant | None]:
    return await rows_by_ids(db, Participant, ids)


async def tasks_by_lecture(db: Db, lecture_ids: list[uuid.UUID]) -> list[list[TaskRecord]]:
    tasks = await _TASKS_OF_LECTURES.all(db, ids=lecture_ids)
    return grouped_by_key(lecture_ids, tasks, lambda row: row.lecture_id)


async def live_steps_by_task(db: Db, task_ids: list[uuid.UUID]) -> list[list[StepRecord]]:
    steps = await _LIVE_STEPS_OF_TASKS.all(db, ids=task_ids)
    return grouped_by_key(task_ids, steps, lambda row: row.task_id)


async def tasks_with_live_steps_by_lecture(
    db: Db, lecture_ids: list[uuid.UUID]
) -> list[list[tuple[TaskRecord, list[StepRecord]]]]:
    """Each lecture's tasks with their live steps: the two statements of `tasks_by_lecture` and
    `live_steps_by_task`, on one connection, for a read that wants both."""
    tasks_of_lectures = await tasks_by_lecture(db, lecture_ids)
    task_ids = [task.id for tasks in tasks_of_lectures for task in tasks]
    steps = iter(await live_steps_by_task(db, task_ids) if task_ids else [])
    return [[(task, next(steps)) for task in tasks] for tasks in tasks_of_lectures]


class LectureTree(NamedTuple):
    lecture: LectureRecord
    instructor: UserRecord
    tasks: list[tuple[TaskRecord, list[StepRecord]]]


# A lecture, its instructor, its tasks and their live steps in one statement, one row per step (or per
# task without one): a single round trip where four statements took four.
# Where each record's columns end in a row of the tree.
_LECTURE_END, _USER_END, _TASK_END, _ = accumulate(
    len(part._fields) for part in (LectureRecord, UserRecord, TaskRecord, StepRecord)
)
_TREE = Read(
    lambda *row: row,
    select(
        *record_select(LectureRecord._fields, LectureRow).selected_columns,
        *record_select(UserRecord._fields, User).selected_columns,
        *record_select(TaskRecord._fields, Task).selected_columns,
        *record_select(StepRecord._fields, Step).selected_columns,
    )
    .select_from(LectureRow)
    .join(User, col(User.id) == col(LectureRow.instructor_id))
    .outerjoin(Task, col(Task.lecture_id) == col(LectureRow.id))
    .outerjoin(Step, (col(Step.task_id) == col(Task.id)) & col(Step.removed_at).is_(None))
    .where(col(LectureRow.id) == bindparam("id", type_=Uuid()))
    .order_by(col(Task.created_at), col(Task.id), col(Step.position)),
)


async def lecture_tree(db: Db, lecture_id: uuid.UUID) -> LectureTree | None:
    rows = await _TREE.all(db, id=lecture_id)
    if not rows:
        return None
    tasks: list[tuple[TaskRecord, list[StepRecord]]] = []
    for row in rows:
        task_id = row[_USER_END]
        if task_id is None:
            continue
        if not tasks or tasks[-1][0].id != task_id:
            tasks.append((TaskRecord(*row[_USER_END:_TASK_END]), []))
        if row[_TASK_END] is not None:
            tasks[-1][1].append(StepRecord(*row[_TASK_END:]))
    first = rows[0]
    lecture, instructor = LectureRecord(*first[:_LECTURE_END]), UserRecord(*first[_LECTURE_END:_USER_END])
    return LectureTree(lecture, instructor, tasks)


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
