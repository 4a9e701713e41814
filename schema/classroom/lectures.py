"""Lectures, tasks and steps: the instructor's course material."""

import strawberry

from core.db import read_connection, read_session, transaction
from core.reads import ReadConnection
from models.classroom import LectureRecord
from resolvers import accounts, classroom
from resolvers.classroom.loaders import tasks_by_lecture
from schema import fields
from schema.accounts import User
from schema.classroom.steps import Step, TargetAction
from schema.classroom.types import Lecture, Task, member_id
from schema.context import Info
from schema.ids import parse_id
from schema.relay import Connection
from schema.selection import selects
from schema.ui_target import UiTargetInput


@strawberry.input
class LectureInput:
    title: str
    description: str | None = None


@strawberry.input
class StepInput:
    title: str
    guide_text: str
    description: str | None = None
    target_action: TargetAction | None = None
    voice_guide_text: str | None = None
    target_hint: UiTargetInput | None = None

    def draft(self) -> classroom.StepDraft:
        return classroom.StepDraft(
            title=self.title,
            description=self.description,
            target_action=self.target_action,
            guide_text=self.guide_text,
            voice_guide_text=self.voice_guide_text,
            target_hint=self.target_hint.value() if self.target_hint else None,
        )


@strawberry.input
class TaskInput:
    title: str
    description: str | None = None
    steps: list[StepInput] | None = None


@strawberry.type
class LecturesQuery:
    @fields.field("Active lectures, newest first; `mine` lists the signed-in instructor's own.")
    async def lectures(
        self, info: Info, first: int | None = None, after: str | None = None, mine: bool | None = None
    ) -> Connection[Lecture]:
        async with read_session() as db:
            page = await classroom.list_lectures(
                db, info.context.actor, mine=bool(mine), first=first, after=after
            )
        return Connection.from_page(page, Lecture.from_row)

    @strawberry.field
    async def lecture(self, info: Info, id: strawberry.ID) -> Lecture | None:
        lecture_id = parse_id(id, "Lecture")
        async with read_connection() as db:
            if selects(info, "tasks", "steps"):
                tree = await classroom.read_lecture_tree(db, info.context.actor, lecture_id)
                return Lecture.from_row(
                    tree.lecture,
                    instructor=User.from_row(tree.instructor),
                    tasks=[Task.from_row(task, steps) for task, steps in tree.tasks],
                )
            row = await classroom.read_lecture(db, info.context.actor, lecture_id)
            return await _with_what_is_selected(db, info, row)

    @strawberry.field
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        async with read_session() as db:
            row = await classroom.get_task(db, info.context.actor, parse_id(id, "Task"))
        return Task.from_row(row)


async def _with_what_is_selected(db: ReadConnection, info: Info, row: LectureRecord) -> Lecture:
    """The lecture with its instructor and tasks when the query selects them, read on the lecture's own
    connection: the whole tree then completes without a DataLoader round per level. (With the tasks'
    steps, `read_lecture_tree` reads it all in one statement.)"""
    instructor = None
    if selects(info, "instructor"):
        (user,) = await accounts.users_by_ids(db, [row.instructor_id])
        instructor = User.from_row(user) if user else None
    tasks = None
    if selects(info, "tasks"):
        (alone,) = await tasks_by_lecture(db, [row.id])
        tasks = [Task.from_row(task) for task in alone]
    return Lecture.from_row(row, instructor=instructor, tasks=tasks)


@strawberry.type
class LecturesMutation:
    @strawberry.mutation
    async def create_lecture(self, info: Info, input: LectureInput) -> Lecture:
        async with transaction() as db:
            row = await classroom.create_lecture(db, info.context.actor, input.title, input.description)
        return Lecture.from_row(row)

    @strawberry.mutation
    async def update_lecture(self, info: Info, id: strawberry.ID, input: LectureInput) -> Lecture:
        async with transaction() as db:
            row = await classroom.update_lecture(
                db, info.context.actor, parse_id(id, "Lecture"), input.title, input.description
            )
        return Lecture.from_row(row)

    @strawberry.mutation
    async def archive_lecture(self, info: Info, id: strawberry.ID) -> Lecture:
        async with transaction() as db:
            row = await classroom.archive_lecture(db, info.context.actor, parse_id(id, "Lecture"))
        return Lecture.from_row(row)

    @strawberry.mutation
    async def enroll(self, info: Info, lecture_id: strawberry.ID) -> Lecture:
        async with transaction() as db:
            row = await classroom.enroll(db, info.context.actor, parse_id(lecture_id, "Lecture"))
        return Lecture.from_row(row)

    @strawberry.mutation
    async def create_task(self, info: Info, lecture_id: strawberry.ID, input: TaskInput) -> Task:
        async with transaction() as db:
            row = await classroom.create_task(
                db,
                info.context.actor,
                parse_id(lecture_id, "Lecture"),
                input.title,
                input.description,
                [step.draft() for step in input.steps or []],
            )
        return Task.from_row(row)

    @strawberry.mutation
    async def update_step(self, info: Info, id: strawberry.ID, input: StepInput) -> Step:
        async with transaction() as db:
            row = await classroom.update_step(db, info.context.actor, parse_id(id, "Step"), input.draft())
        return Step.from_row(row)

    @strawberry.mutation
    async def add_step(
        self, info: Info, task_id: strawberry.ID, input: StepInput, position: int | None = None
    ) -> Step:
        async with transaction() as db:
            row = await classroom.add_step(
                db, info.context.actor, parse_id(task_id, "Task"), input.draft(), position
            )
        return Step.from_row(row)

    @strawberry.mutation
    async def remove_step(self, info: Info, id: strawberry.ID) -> bool:
        async with transaction() as db:
            return await classroom.remove_step(db, info.context.actor, parse_id(id, "Step"))

    @strawberry.mutation
    async def reorder_steps(self, info: Info, task_id: strawberry.ID, step_ids: list[strawberry.ID]) -> Task:
        async with transaction() as db:
            row = await classroom.reorder_steps(
                db,
                info.context.actor,
                parse_id(task_id, "Task"),
                [member_id(step_id) for step_id in step_ids],
            )
        return Task.from_row(row)
