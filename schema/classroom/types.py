"""The classroom's node types, which point at each other, and the enums they use.

A type built from a row goes through the same view (resolvers/classroom/live.py) a subscriber receives,
so there is one conversion per type. Everything a type points at is resolved through per-request
DataLoaders, so lists cost a fixed number of statements however long they are.
"""

import asyncio
import uuid
from datetime import datetime
from typing import cast

import segno
import strawberry

import models.classroom as rows
from core.errors import BadInput
from resolvers import classroom
from resolvers.classroom import live
from schema import fields
from schema.accounts import User, load_users
from schema.classroom.loaders import (
    load_enrolled_counts,
    load_lectures,
    load_participants,
    load_participants_of_session,
    load_presence,
    load_progress_of_participant,
    load_sessions_of_lecture,
    load_steps,
    load_tasks_of_lecture,
    load_tasks_with_steps_of_lecture,
)
from schema.classroom.steps import Step, live_steps, load_step
from schema.context import Info
from schema.ids import parse_id
from schema.selection import selects

SessionStatus = strawberry.enum(rows.SessionStatus, name="SessionStatus")
ParticipantStatus = strawberry.enum(rows.ParticipantStatus, name="ParticipantStatus")
ProgressStatus = strawberry.enum(rows.ProgressStatus, name="ProgressStatus")
HelpStatus = strawberry.enum(rows.HelpStatus, name="HelpStatus")
HelpType = strawberry.enum(rows.HelpType, name="HelpType")


@strawberry.type
class Task:
    id: strawberry.ID
    title: str
    description: str | None
    lecture_id: strawberry.Private[uuid.UUID]
    # Read with the task when the query asked for both (Lecture.tasks), so `steps` need not wait.
    prefetched_steps: strawberry.Private[list[Step] | None] = None

    @classmethod
    def from_row(
        cls, task: rows.Task | rows.TaskRecord, steps: list[rows.StepRecord] | None = None
    ) -> "Task":
        return cls(
            id=strawberry.ID(str(task.id)),
            title=task.title,
            description=task.description,
            lecture_id=task.lecture_id,
            prefetched_steps=None if steps is None else [Step.from_row(step) for step in steps],
        )

    @strawberry.field
    async def lecture(self, info: Info) -> "Lecture | None":
        row = await info.context.loader(load_lectures).load(self.lecture_id)
        return Lecture.from_row(row) if row else None

    @fields.field("The steps in order; removed steps are left out.")
    def steps(self, info: Info) -> list[Step]:
        if self.prefetched_steps is not None:
            return self.prefetched_steps
        # A plain resolver returning an awaitable: GraphQL awaits it, and the prefetched case above costs
        # no coroutine, future or DataLoader round per task (a lecture tree has hundreds of tasks).
        return cast("list[Step]", live_steps(info, uuid.UUID(self.id)))


async def _instructor(info: Info, instructor_id: uuid.UUID) -> User:
    user = await info.context.loader(load_users).load(str(instructor_id))
    assert user is not None
    return user


async def _tasks(info: Info, lecture_id: uuid.UUID) -> list[Task]:
    if selects(info, "steps"):
        tasks = await info.context.loader(load_tasks_with_steps_of_lecture).load(lecture_id)
        return [Task.from_row(task, steps) for task, steps in tasks]
    tasks_alone = await info.context.loader(load_tasks_of_lecture).load(lecture_id)
    return [Task.from_row(row) for row in tasks_alone]


@strawberry.type
class Lecture:
    id: strawberry.ID
    title: str
    description: str | None
    is_active: bool
    instructor_id: strawberry.Private[uuid.UUID]
    # Read with the lecture when the query asked for them (Query.lecture), so these need not wait.
    prefetched_instructor: strawberry.Private[User | None] = None
    prefetched_tasks: strawberry.Private[list[Task] | None] = None

    @classmethod
    def from_row(
        cls,
        lecture: rows.Lecture | rows.LectureRecord,
        *,
        instructor: User | None = None,
        tasks: list[Task] | None = None,
    ) -> "Lecture":
        return cls(
            id=strawberry.ID(str(lecture.id)),
            title=lecture.title,
            description=lecture.description,
            is_active=lecture.is_active,
            instructor_id=lecture.instructor_id,
            prefetched_instructor=instructor,
            prefetched_tasks=tasks,
        )

    # Plain resolvers returning an awaitable unless prefetched, as Task.steps.
    @strawberry.field
    def instructor(self, info: Info) -> User:
        if self.prefetched_instructor is not None:
            return self.prefetched_instructor
        return cast("User", _instructor(info, self.instructor_id))

    @strawberry.field
    def tasks(self, info: Info) -> list[Task]:
        if self.prefetched_tasks is not None:
            return self.prefetched_tasks
        return cast("list[Task]", _tasks(info, uuid.UUID(self.id)))

    @strawberry.field
    async def enrolled_count(self, info: Info) -> int:
        return await info.context.loader(load_enrolled_counts).load(uuid.UUID(self.id))

    @fields.field("The instructor's sessions of this lecture; empty for everyone else.")
    async def sessions(self, info: Info) -> list["LiveSession"]:
        if not classroom.owns(info.context.actor, self.instructor_id):
            return []
        sessions = await info.context.loader(load_sessions_of_lecture).load(uuid.UUID(self.id))
        return [LiveSession.from_row(row, classroom.INSTRUCTOR) for row in sessions]


@strawberry.type(
    description="Figures measured when help was asked for; the advice fields stay null until the "
    'diagnosis arrives (HelpRequestUpdated), from the AI or, with model "rules", from the figures.'
)
class HelpDiagnosis:
    attempts: int
    seconds_on_step: int
    steps_behind: int
    problem: str | None = strawberry.field(description="What is most probably wrong, in one sentence.")
    suggested_help: str | None = strawberry.field(description="What the instructor can say or show.")
    help_type: HelpType | None
    confidence: float | None = strawberry.field(description="From 0 to 1.")
    model: str | None = strawberry.field(description='The AI model that diagnosed, or "rules".')

    @classmethod
    def of(cls, diagnosis: live.HelpDiagnosis) -> "HelpDiagnosis":
        return cls(
            attempts=diagnosis.attempts,
            seconds_on_step=diagnosis.seconds_on_step,
            steps_behind=diagnosis.steps_behind,
            problem=diagnosis.problem,
            suggested_help=diagnosis.suggested_help,
            help_type=diagnosis.help_type,
            confidence=diagnosis.confidence,
            model=diagnosis.model,
        )


@strawberry.type
class Participant:
    id: strawberry.ID
    display_name: str
    status: ParticipantStatus
    completed_steps: int
    session_id: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID | None]
    current_step_id: strawberry.Private[uuid.UUID | None]
    stored_last_seen_at: strawberry.Private[datetime | None]

    @classmethod
    def of(cls, participant: live.ParticipantView) -> "Participant":
        return cls(
            id=strawberry.ID(str(participant.id)),
            display_name=participant.display_name,
            status=participant.status,
            completed_steps=participant.completed_steps,
            session_id=participant.session_id,
            user_id=participant.user_id,
            current_step_id=participant.current_step_id,
            stored_last_seen_at=participant.last_seen_at,
        )

    @classmethod
    def from_row(cls, participant: rows.Participant) -> "Participant":
        return cls.of(live.ParticipantView.of(participant))

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await info.context.loader(load_users).load(str(self.user_id)) if self.user_id else None

    @fields.field("Subscribed to the session now, or a heartbeat within the last 30 s.")
    async def online(self, info: Info) -> bool:
        presence = await info.context.loader(load_presence).load(self.session_id)
        return presence.is_online(uuid.UUID(self.id))

    @strawberry.field
    async def last_seen_at(self, info: Info) -> datetime | None:
        presence = await info.context.loader(load_presence).load(self.session_id)
        seen = [t for t in (presence.last_seen.get(uuid.UUID(self.id)), self.stored_last_seen_at) if t]
        return max(seen) if seen else None

    @strawberry.field
    async def current_step(self, info: Info) -> Step | None:
        return await load_step(info, self.current_step_id)

    @fields.field("One record per step this participant has started.")
    async def progress(self, info: Info) -> list["StepProgress"]:
        records = await info.context.loader(load_progress_of_participant).load(uuid.UUID(self.id))
        steps = await info.context.loader(load_steps).load_many([record.step_id for record in records])
        return [
            StepProgress.from_row(record, self, Step.from_row(step))
            for record, step in zip(records, steps, strict=True)
            if step is not None
        ]


@strawberry.type
class StepProgress:
    id: strawberry.ID
    participant: Participant
    step: Step
    status: ProgressStatus
    attempts: int
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, progress: live.ProgressView) -> "StepProgress":
        return cls(
            id=strawberry.ID(str(progress.id)),
            participant=Participant.of(progress.participant),
            step=Step.of(progress.step),
            status=progress.status,
            attempts=progress.attempts,
            started_at=progress.started_at,
            completed_at=progress.completed_at,
        )

    @classmethod
    def from_row(cls, progress: rows.StepProgress, participant: Participant, step: Step) -> "StepProgress":
        return cls(
            id=strawberry.ID(str(progress.id)),
            participant=participant,
            step=step,
            status=progress.status,
            attempts=progress.attempts,
            started_at=progress.started_at,
            completed_at=progress.completed_at,
        )


@strawberry.type
class HelpRequest:
    id: strawberry.ID
    participant: Participant
    step: Step | None
    message: str | None
    status: HelpStatus
    created_at: datetime
    resolved_at: datetime | None
    response: str | None
    diagnosis: HelpDiagnosis | None
    rating: int | None = strawberry.field(description="The participant's rating of the help, 1 to 5.")

    @classmethod
    def of(cls, request: live.HelpRequestView) -> "HelpRequest":
        return cls(
            id=strawberry.ID(str(request.id)),
            participant=Participant.of(request.participant),
            step=Step.of(request.step) if request.step else None,
            message=request.message,
            status=request.status,
            created_at=request.created_at,
            resolved_at=request.resolved_at,
            response=request.response,
            diagnosis=HelpDiagnosis.of(request.diagnosis) if request.diagnosis else None,
            rating=request.rating,
        )


async def help_requests_of(info: Info, requests: list[rows.HelpRequest]) -> list[HelpRequest]:
    """Rows as GraphQL types, their participants and steps batched through the DataLoaders."""
    participants = await info.context.loader(load_participants).load_many(
        [r.participant_id for r in requests]
    )
    steps = await asyncio.gather(
        *(info.context.loader(load_steps).load(r.step_id) if r.step_id else _none() for r in requests)
    )
    converted = []
    for request, participant, step in zip(requests, participants, steps, strict=True):
        assert participant is not None
        converted.append(HelpRequest.of(live.HelpRequestView.of(request, participant, step)))
    return converted


async def _none() -> None:
    return None


@strawberry.type
class LiveSession:
    id: strawberry.ID
    code: str
    title: str
    status: SessionStatus
    started_at: datetime | None
    ended_at: datetime | None
    lecture_id: strawberry.Private[uuid.UUID]
    task_id: strawberry.Private[uuid.UUID]
    current_step_id: strawberry.Private[uuid.UUID | None]
    viewer: strawberry.Private[classroom.Viewer]

    @classmethod
    def from_row(cls, session: rows.LiveSession, viewer: classroom.Viewer) -> "LiveSession":
        return cls(
            id=strawberry.ID(str(session.id)),
            code=session.code,
            title=session.title,
            status=session.status,
            started_at=session.started_at,
            ended_at=session.ended_at,
            lecture_id=session.lecture_id,
            task_id=session.task_id,
            current_step_id=session.current_step_id,
            viewer=viewer,
        )

    @strawberry.field
    def join_url(self) -> str:
        return classroom.join_url(self.code)

    @fields.field("The join URL as a QR code, an SVG document.")
    def qr_code_svg(self) -> str:
        return str(segno.make(classroom.join_url(self.code), error="m").svg_inline(scale=4))

    @strawberry.field
    async def lecture(self, info: Info) -> Lecture:
        row = await info.context.loader(load_lectures).load(self.lecture_id)
        assert row is not None
        return Lecture.from_row(row)

    @strawberry.field
    async def current_step(self, info: Info) -> Step | None:
        return await load_step(info, self.current_step_id)

    @strawberry.field
    async def steps(self, info: Info) -> list[Step]:
        return await live_steps(info, self.task_id)

    @fields.field("Everyone for the instructor; a participant sees only themselves.")
    async def participants(self, info: Info) -> list[Participant]:
        found = await info.context.loader(load_participants_of_session).load(uuid.UUID(self.id))
        return [Participant.from_row(row) for row in found if self.viewer.may_see_participant(row.id)]

    @fields.field("The viewer's own participant in this session, if they joined it.")
    async def me(self, info: Info) -> Participant | None:
        if self.viewer.participant_id is None:
            return None
        row = await info.context.loader(load_participants).load(self.viewer.participant_id)
        return Participant.from_row(row) if row else None


@strawberry.type
class JoinPayload:
    session: LiveSession
    participant: Participant
    participant_token: str


def parse_session_id(value: strawberry.ID) -> uuid.UUID:
    return parse_id(value, "Live session")


def member_id(value: strawberry.ID, field: str = "stepId") -> uuid.UUID:
    """A malformed id of a step (or task) to act on is bad input, like the id of another task's step."""
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise BadInput(f"{field} is not an id of ours", field=field) from error
