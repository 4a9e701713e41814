"""The live classroom: lectures, tasks and steps, live sessions and their subscriptions.

Types that subscribers receive (Step, Participant, StepProgress, HelpRequest) are built from the event
payloads of broadcast/classroom.py; types read from the database are built from the same payloads, so
there is one conversion per type. Everything a type points at is resolved through per-request
DataLoaders, so lists cost a fixed number of statements however long they are.
"""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from functools import partial
from typing import Annotated, Any, TypeVar

import segno
import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

import models.classroom as rows
from broadcast import classroom as live
from core.db import read_session, transaction
from core.errors import BadInput
from models.base import utcnow
from resolvers import classroom
from schema.accounts import User, load_users
from schema.context import Info
from schema.ids import parse_id

# One UiTarget type for recorded events, analysed steps and task steps alike.
from schema.recordings import UiTarget
from schema.relay import Connection

TargetAction = strawberry.enum(rows.TargetAction, name="TargetAction")
SessionStatus = strawberry.enum(rows.SessionStatus, name="SessionStatus")
ParticipantStatus = strawberry.enum(rows.ParticipantStatus, name="ParticipantStatus")
ProgressStatus = strawberry.enum(rows.ProgressStatus, name="ProgressStatus")
HelpStatus = strawberry.enum(rows.HelpStatus, name="HelpStatus")
StuckReason = strawberry.enum(classroom.StuckReason, name="StuckReason")

V = TypeVar("V")


def _batch(
    query: Callable[[AsyncSession, list[uuid.UUID]], Awaitable[list[V]]],
) -> Callable[[list[uuid.UUID]], Awaitable[list[V]]]:
    """A DataLoader batch function running `query` in a short read session of its own."""

    async def load(keys: list[uuid.UUID]) -> list[V]:
        async with read_session() as db:
            return await query(db, keys)

    load.__name__ = query.__name__
    return load


load_lectures = _batch(classroom.lectures_by_ids)
load_tasks = _batch(classroom.tasks_by_ids)
load_steps = _batch(classroom.steps_by_ids)
load_participants = _batch(classroom.participants_by_ids)
load_tasks_of_lecture = _batch(classroom.tasks_by_lecture)
load_live_steps_of_task = _batch(classroom.live_steps_by_task)
load_enrolled_counts = _batch(classroom.enrolled_counts)
load_sessions_of_lecture = _batch(classroom.sessions_by_lecture)
load_participants_of_session = _batch(classroom.participants_by_session)
load_progress_of_participant = _batch(classroom.progress_by_participant)


async def load_presence(session_ids: list[uuid.UUID]) -> list[live.Presence]:
    return list(await asyncio.gather(*(live.presence(session_id) for session_id in session_ids)))


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.type
class Step:
    id: strawberry.ID
    order: int
    title: str
    description: str | None
    target_action: TargetAction | None
    guide_text: str
    voice_guide_text: str | None
    target_hint: UiTarget | None
    version: int = strawberry.field(description="Grows with every edit; earlier versions are kept.")
    removed: bool = strawberry.field(description="Removed from its task; kept for progress and history.")

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "Step":
        return cls(
            id=strawberry.ID(payload["id"]),
            order=payload["order"],
            title=payload["title"],
            description=payload["description"],
            target_action=rows.TargetAction(payload["targetAction"]) if payload["targetAction"] else None,
            guide_text=payload["guideText"],
            voice_guide_text=payload["voiceGuideText"],
            target_hint=UiTarget.from_json(payload["targetHint"]),
            version=payload["version"],
            removed=payload["removed"],
        )

    @classmethod
    def from_row(cls, step: rows.Step) -> "Step":
        return cls.from_payload(live.step_payload(step))


async def _step(info: Info, step_id: uuid.UUID | None) -> Step | None:
    if step_id is None:
        return None
    row = await info.context.loader(load_steps).load(step_id)
    return Step.from_row(row) if row else None


async def _live_steps(info: Info, task_id: uuid.UUID) -> list[Step]:
    return [Step.from_row(row) for row in await info.context.loader(load_live_steps_of_task).load(task_id)]


@strawberry.type
class Task:
    id: strawberry.ID
    title: str
    description: str | None
    lecture_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, task: rows.Task) -> "Task":
        return cls(
            id=strawberry.ID(str(task.id)),
            title=task.title,
            description=task.description,
            lecture_id=task.lecture_id,
        )

    @strawberry.field
    async def lecture(self, info: Info) -> Annotated["Lecture", strawberry.lazy("schema.classroom")] | None:
        row = await info.context.loader(load_lectures).load(self.lecture_id)
        return Lecture.from_row(row) if row else None

    @strawberry.field(description="The steps in order; removed steps are left out.")
    async def steps(self, info: Info) -> list[Step]:
        return await _live_steps(info, uuid.UUID(self.id))


@strawberry.type
class Lecture:
    id: strawberry.ID
    title: str
    description: str | None
    is_active: bool
    instructor_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, lecture: rows.Lecture) -> "Lecture":
        return cls(
            id=strawberry.ID(str(lecture.id)),
            title=lecture.title,
            description=lecture.description,
            is_active=lecture.is_active,
            instructor_id=lecture.instructor_id,
        )

    @strawberry.field
    async def instructor(self, info: Info) -> User:
        user = await info.context.loader(load_users).load(str(self.instructor_id))
        assert user is not None
        return user

    @strawberry.field
    async def tasks(self, info: Info) -> list[Task]:
        return [
            Task.from_row(row)
            for row in await info.context.loader(load_tasks_of_lecture).load(uuid.UUID(self.id))
        ]

    @strawberry.field
    async def enrolled_count(self, info: Info) -> int:
        return await info.context.loader(load_enrolled_counts).load(uuid.UUID(self.id))

    @strawberry.field(description="The instructor's sessions of this lecture; empty for everyone else.")
    async def sessions(self, info: Info) -> list["LiveSession"]:
        if not classroom.owns(info.context.actor, self.instructor_id):
            return []
        sessions = await info.context.loader(load_sessions_of_lecture).load(uuid.UUID(self.id))
        return [LiveSession.from_row(row, classroom.INSTRUCTOR) for row in sessions]


@strawberry.type
class HelpDiagnosis:
    attempts: int
    seconds_on_step: int
    steps_behind: int


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
    def from_payload(cls, payload: dict[str, Any]) -> "Participant":
        return cls(
            id=strawberry.ID(payload["id"]),
            display_name=payload["displayName"],
            status=rows.ParticipantStatus(payload["status"]),
            completed_steps=payload["completedSteps"],
            session_id=uuid.UUID(payload["sessionId"]),
            user_id=_uuid(payload["userId"]),
            current_step_id=_uuid(payload["currentStepId"]),
            stored_last_seen_at=_time(payload["lastSeenAt"]),
        )

    @classmethod
    def from_row(cls, participant: rows.Participant) -> "Participant":
        return cls.from_payload(live.participant_payload(participant))

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await info.context.loader(load_users).load(str(self.user_id)) if self.user_id else None

    @strawberry.field(description="Subscribed to the session now, or a heartbeat within the last 30 s.")
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
        return await _step(info, self.current_step_id)

    @strawberry.field(description="One record per step this participant has started.")
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
    def from_payload(cls, payload: dict[str, Any]) -> "StepProgress":
        return cls(
            id=strawberry.ID(payload["id"]),
            participant=Participant.from_payload(payload["participant"]),
            step=Step.from_payload(payload["step"]),
            status=rows.ProgressStatus(payload["status"]),
            attempts=payload["attempts"],
            started_at=_time(payload["startedAt"]),
            completed_at=_time(payload["completedAt"]),
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

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "HelpRequest":
        diagnosis = payload["diagnosis"]
        return cls(
            id=strawberry.ID(payload["id"]),
            participant=Participant.from_payload(payload["participant"]),
            step=Step.from_payload(payload["step"]) if payload["step"] else None,
            message=payload["message"],
            status=rows.HelpStatus(payload["status"]),
            created_at=datetime.fromisoformat(payload["createdAt"]),
            resolved_at=_time(payload["resolvedAt"]),
            response=payload["response"],
            diagnosis=(
                HelpDiagnosis(
                    attempts=diagnosis["attempts"],
                    seconds_on_step=diagnosis["secondsOnStep"],
                    steps_behind=diagnosis["stepsBehind"],
                )
                if diagnosis
                else None
            ),
        )


async def _help_requests(info: Info, requests: list[rows.HelpRequest]) -> list[HelpRequest]:
    participants = await info.context.loader(load_participants).load_many(
        [r.participant_id for r in requests]
    )
    steps = await asyncio.gather(
        *(info.context.loader(load_steps).load(r.step_id) if r.step_id else _none() for r in requests)
    )
    converted = []
    for request, participant, step in zip(requests, participants, steps, strict=True):
        assert participant is not None
        converted.append(HelpRequest.from_payload(live.help_request_payload(request, participant, step)))
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

    @strawberry.field(description="The join URL as a QR code, an SVG document.")
    def qr_code_svg(self) -> str:
        return str(segno.make(self.join_url(), error="m").svg_inline(scale=4))

    @strawberry.field
    async def lecture(self, info: Info) -> Lecture:
        row = await info.context.loader(load_lectures).load(self.lecture_id)
        assert row is not None
        return Lecture.from_row(row)

    @strawberry.field
    async def current_step(self, info: Info) -> Step | None:
        return await _step(info, self.current_step_id)

    @strawberry.field
    async def steps(self, info: Info) -> list[Step]:
        return await _live_steps(info, self.task_id)

    @strawberry.field(description="Everyone for the instructor; a participant sees only themselves.")
    async def participants(self, info: Info) -> list[Participant]:
        found = await info.context.loader(load_participants_of_session).load(uuid.UUID(self.id))
        return [Participant.from_row(row) for row in found if self.viewer.may_see_participant(row.id)]

    @strawberry.field(description="The viewer's own participant in this session, if they joined it.")
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


@strawberry.type
class StepAnalytics:
    id: strawberry.ID
    order: int
    title: str
    started_count: int
    completed_count: int
    completion_rate: float
    median_seconds: float | None
    delay_rate: float = strawberry.field(description="Share of starters who took at least twice the median.")
    help_rate: float
    bottleneck_score: float = strawberry.field(
        description="0.4 * delay rate + 0.4 * help rate + 0.2 * (1 - completion rate)"
    )

    @strawberry.field
    async def step(self, info: Info) -> Step:
        step = await _step(info, uuid.UUID(self.id))
        assert step is not None
        return step


@strawberry.type
class StuckStudent:
    participant_id: strawberry.Private[uuid.UUID]
    display_name: str
    reason: StuckReason
    since: datetime
    step_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def participant(self, info: Info) -> Participant:
        row = await info.context.loader(load_participants).load(self.participant_id)
        assert row is not None
        return Participant.from_row(row)

    @strawberry.field
    async def step(self, info: Info) -> Step | None:
        return await _step(info, self.step_id)


@strawberry.type
class SessionAnalytics:
    id: strawberry.ID
    status: SessionStatus
    participants_total: int
    participants_online: int
    open_help_requests: int
    steps: list[StepAnalytics]
    stuck_students: list[StuckStudent] = strawberry.field(
        description="No progress for 5 minutes, or waiting for help."
    )
    bottleneck_step_id: strawberry.ID | None
    computed_at: datetime

    @classmethod
    def of(cls, analytics: classroom.SessionAnalytics) -> "SessionAnalytics":
        worst = max(analytics.steps, key=lambda s: s.bottleneck_score, default=None)
        return cls(
            id=strawberry.ID(str(analytics.session_id)),
            status=analytics.status,
            participants_total=analytics.participants_total,
            participants_online=analytics.participants_online,
            open_help_requests=analytics.open_help_requests,
            steps=[
                StepAnalytics(
                    id=strawberry.ID(str(s.step_id)),
                    order=s.order,
                    title=s.title,
                    started_count=s.started,
                    completed_count=s.completed,
                    completion_rate=s.completion_rate,
                    median_seconds=s.median_seconds,
                    delay_rate=s.delay_rate,
                    help_rate=s.help_rate,
                    bottleneck_score=s.bottleneck_score,
                )
                for s in analytics.steps
            ],
            stuck_students=[
                StuckStudent(
                    participant_id=s.participant_id,
                    display_name=s.display_name,
                    reason=s.reason,
                    since=s.since,
                    step_id=s.step_id,
                )
                for s in analytics.stuck
            ],
            bottleneck_step_id=strawberry.ID(str(worst.step_id))
            if worst and worst.bottleneck_score > 0
            else None,
            computed_at=analytics.computed_at,
        )


# Session events: every member has `seq` and `at`.


@strawberry.type
class SessionSnapshot:
    seq: int
    at: datetime
    session: LiveSession
    status: SessionStatus
    current_step: Step | None
    total_steps: int
    participants: list[Participant] = strawberry.field(
        description="Everyone for the instructor; a participant sees only themselves."
    )


@strawberry.type
class StepChanged:
    seq: int
    at: datetime
    step: Step
    total_steps: int
    # Not `message`: union members must agree on a shared field's type; InstructorMessage's is non-null.
    instructor_note: str | None = strawberry.field(description="The message given with `nextStep`, if any.")


@strawberry.type
class SessionStatusChanged:
    seq: int
    at: datetime
    status: SessionStatus
    previous_status: SessionStatus


@strawberry.type
class ParticipantJoined:
    seq: int
    at: datetime
    participant: Participant | None = strawberry.field(
        description="Null for other participants: they see that someone joined, not who."
    )
    participant_count: int


@strawberry.type
class ParticipantLeft:
    seq: int
    at: datetime
    participant: Participant | None = strawberry.field(
        description="Null for other participants: they see that someone left, not who."
    )
    participant_count: int


@strawberry.type
class InstructorMessage:
    seq: int
    at: datetime
    message: str


@strawberry.type
class ProgressUpdated:
    seq: int
    at: datetime
    progress: StepProgress | None = strawberry.field(
        description="Null for other participants' progress, which only the instructor sees."
    )


SessionEvent = Annotated[
    SessionSnapshot
    | StepChanged
    | SessionStatusChanged
    | ParticipantJoined
    | ParticipantLeft
    | InstructorMessage
    | ProgressUpdated,
    strawberry.union("SessionEvent"),
]


@strawberry.type
class HelpRequestSnapshot:
    seq: int
    at: datetime
    requests: list[HelpRequest]


@strawberry.type
class HelpRequestCreated:
    seq: int
    at: datetime
    request: HelpRequest


@strawberry.type
class HelpRequestUpdated:
    seq: int
    at: datetime
    request: HelpRequest


HelpRequestEvent = Annotated[
    HelpRequestSnapshot | HelpRequestCreated | HelpRequestUpdated, strawberry.union("HelpRequestEvent")
]


def _session_event(event: live.Event, viewer: classroom.Viewer) -> SessionEvent:
    """An event as this viewer may see it; redacted rather than dropped, so `seq` never skips."""
    seq, at, kind = event["seq"], datetime.fromisoformat(event["at"]), event["type"]
    if kind == "StepChanged":
        return StepChanged(
            seq=seq,
            at=at,
            step=Step.from_payload(event["step"]),
            total_steps=event["totalSteps"],
            instructor_note=event["message"],
        )
    if kind == "SessionStatusChanged":
        return SessionStatusChanged(
            seq=seq,
            at=at,
            status=rows.SessionStatus(event["status"]),
            previous_status=rows.SessionStatus(event["previousStatus"]),
        )
    if kind == "InstructorMessage":
        return InstructorMessage(seq=seq, at=at, message=event["message"])
    if kind == "ProgressUpdated":
        progress = event["progress"]
        visible = viewer.may_see_participant(uuid.UUID(progress["participant"]["id"]))
        return ProgressUpdated(
            seq=seq, at=at, progress=StepProgress.from_payload(progress) if visible else None
        )
    membership = ParticipantJoined if kind == "ParticipantJoined" else ParticipantLeft
    participant = event["participant"]
    visible = viewer.may_see_participant(uuid.UUID(participant["id"]))
    return membership(
        seq=seq,
        at=at,
        participant=Participant.from_payload(participant) if visible else None,
        participant_count=event["count"],
    )


def _help_event(event: live.Event) -> HelpRequestEvent:
    kind = HelpRequestCreated if event["type"] == "HelpRequestCreated" else HelpRequestUpdated
    return kind(
        seq=event["seq"],
        at=datetime.fromisoformat(event["at"]),
        request=HelpRequest.from_payload(event["request"]),
    )


def _session_id(value: strawberry.ID) -> uuid.UUID:
    return parse_id(value, "Live session")


# Inputs.


@strawberry.input
class LectureInput:
    title: str
    description: str | None = None


@strawberry.input
class UiTargetInput:
    view_id: str | None = None
    text: str | None = None
    content_description: str | None = None
    bounds: str | None = None
    package_name: str | None = None
    class_name: str | None = None


@strawberry.input
class StepInput:
    title: str
    guide_text: str
    description: str | None = None
    target_action: TargetAction | None = None
    voice_guide_text: str | None = None
    target_hint: UiTargetInput | None = None

    def draft(self) -> classroom.StepDraft:
        hint = self.target_hint
        return classroom.StepDraft(
            title=self.title,
            description=self.description,
            target_action=self.target_action,
            guide_text=self.guide_text,
            voice_guide_text=self.voice_guide_text,
            target_hint=classroom.UiHint(**dataclasses.asdict(hint)) if hint else None,
        )


@strawberry.input
class TaskInput:
    title: str
    description: str | None = None
    steps: list[StepInput] | None = None


# Roots.


@strawberry.type
class ClassroomQuery:
    @strawberry.field(
        description="Active lectures, newest first; `mine` lists the signed-in instructor's own."
    )
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
        async with read_session() as db:
            row = await classroom.get_lecture(db, info.context.actor, parse_id(id, "Lecture"))
        return Lecture.from_row(row)

    @strawberry.field
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        async with read_session() as db:
            row = await classroom.get_task(db, info.context.actor, parse_id(id, "Task"))
        return Task.from_row(row)

    @strawberry.field(description="By id for its instructor and participants, or by join code for anyone.")
    async def live_session(
        self, info: Info, id: strawberry.ID | None = None, code: str | None = None
    ) -> LiveSession | None:
        async with read_session() as db:
            session, viewer = await classroom.find_session(
                db,
                info.context.actor,
                session_id=_session_id(id) if id is not None else None,
                code=code,
                client_ip=info.context.client_ip,
            )
        return LiveSession.from_row(session, viewer)

    @strawberry.field
    async def help_requests(
        self, info: Info, session_id: strawberry.ID, status: HelpStatus | None = None
    ) -> list[HelpRequest]:
        async with read_session() as db:
            found = await classroom.list_help_requests(
                db, info.context.actor, _session_id(session_id), status
            )
        return await _help_requests(info, found)

    @strawberry.field
    async def session_analytics(self, info: Info, session_id: strawberry.ID) -> SessionAnalytics:
        async with read_session() as db:
            analytics = await classroom.session_analytics(db, info.context.actor, _session_id(session_id))
        return SessionAnalytics.of(analytics)


async def _control(
    info: Info, session_id: strawberry.ID, action: classroom.Action, **options: Any
) -> LiveSession:
    async with transaction() as db:
        session = await classroom.control(db, info.context.actor, _session_id(session_id), action, **options)
    return LiveSession.from_row(session, classroom.INSTRUCTOR)


@strawberry.type
class ClassroomMutation:
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
                [_member_id(step_id) for step_id in step_ids],
            )
        return Task.from_row(row)

    @strawberry.mutation
    async def create_live_session(
        self,
        info: Info,
        lecture_id: strawberry.ID,
        task_id: strawberry.ID | None = None,
        title: str | None = None,
    ) -> LiveSession:
        async with transaction() as db:
            row = await classroom.create_live_session(
                db,
                info.context.actor,
                parse_id(lecture_id, "Lecture"),
                _member_id(task_id, "taskId") if task_id is not None else None,
                title,
            )
        return LiveSession.from_row(row, classroom.INSTRUCTOR)

    @strawberry.mutation
    async def start_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.START)

    @strawberry.mutation
    async def next_step(
        self, info: Info, session_id: strawberry.ID, message: str | None = None
    ) -> LiveSession:
        return await _control(info, session_id, classroom.Action.NEXT_STEP, message=message)

    @strawberry.mutation
    async def previous_step(self, info: Info, session_id: strawberry.ID) -> LiveSession:
        return await _control(info, session_id, classroom.Action.PREVIOUS_STEP)

    @strawberry.mutation
    async def go_to_step(self, info: Info, session_id: strawberry.ID, step_id: strawberry.ID) -> LiveSession:
        return await _control(info, session_id, classroom.Action.GO_TO_STEP, step_id=_member_id(step_id))

    @strawberry.mutation
    async def pause_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.PAUSE)

    @strawberry.mutation
    async def resume_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.RESUME)

    @strawberry.mutation
    async def end_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.END)

    @strawberry.mutation(description="At most 500 characters; reaches every participant.")
    async def send_instructor_message(self, info: Info, session_id: strawberry.ID, message: str) -> bool:
        async with transaction() as db:
            return await classroom.send_instructor_message(
                db, info.context.actor, _session_id(session_id), message
            )

    @strawberry.mutation(description="No account needed; answers a participant token for this session.")
    async def join_session(
        self, info: Info, code: str, display_name: str, device_id: str | None = None
    ) -> JoinPayload:
        async with transaction() as db:
            result = await classroom.join_session(
                db, info.context.actor, code, display_name, device_id, info.context.client_ip
            )
        viewer = classroom.Viewer(classroom.ViewerRole.PARTICIPANT, result.participant.id)
        return JoinPayload(
            session=LiveSession.from_row(result.session, viewer),
            participant=Participant.from_row(result.participant),
            participant_token=result.token,
        )

    @strawberry.mutation
    async def leave_session(self, info: Info, session_id: strawberry.ID) -> bool:
        async with transaction() as db:
            return await classroom.leave_session(db, info.context.actor, _session_id(session_id))

    @strawberry.mutation(description="Keeps a participant online for 30 s without an open subscription.")
    async def heartbeat(self, info: Info, session_id: strawberry.ID) -> bool:
        async with read_session() as db:
            return await classroom.heartbeat(db, info.context.actor, _session_id(session_id))

    @strawberry.mutation
    async def report_progress(
        self, info: Info, session_id: strawberry.ID, step_id: strawberry.ID, status: ProgressStatus
    ) -> StepProgress:
        async with transaction() as db:
            progress, participant, step = await classroom.report_progress(
                db, info.context.actor, _session_id(session_id), _member_id(step_id), status
            )
        return StepProgress.from_payload(live.progress_payload(progress, participant, step))

    @strawberry.mutation
    async def request_help(
        self,
        info: Info,
        session_id: strawberry.ID,
        step_id: strawberry.ID | None = None,
        message: str | None = None,
    ) -> HelpRequest:
        async with transaction() as db:
            request = await classroom.request_help(
                db,
                info.context.actor,
                _session_id(session_id),
                _member_id(step_id) if step_id is not None else None,
                message,
            )
        return (await _help_requests(info, [request]))[0]

    @strawberry.mutation
    async def acknowledge_help_request(self, info: Info, id: strawberry.ID) -> HelpRequest:
        async with transaction() as db:
            request = await classroom.acknowledge_help_request(
                db, info.context.actor, parse_id(id, "Help request")
            )
        return (await _help_requests(info, [request]))[0]

    @strawberry.mutation
    async def resolve_help_request(
        self, info: Info, id: strawberry.ID, response: str | None = None
    ) -> HelpRequest:
        async with transaction() as db:
            request = await classroom.resolve_help_request(
                db, info.context.actor, parse_id(id, "Help request"), response
            )
        return (await _help_requests(info, [request]))[0]


def _member_id(value: strawberry.ID, field: str = "stepId") -> uuid.UUID:
    """A malformed id of a step (or task) to act on is bad input, like the id of another task's step."""
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise BadInput(f"{field} is not an id of ours", field=field) from error


async def _compute_analytics(session_id: uuid.UUID) -> classroom.SessionAnalytics:
    async with read_session() as db:
        return await classroom.compute_analytics(db, session_id)


@strawberry.type
class ClassroomSubscription:
    @strawberry.subscription(
        description="A snapshot, then every change; `seq` grows by exactly one per event."
    )
    async def session_events(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[SessionEvent, None]:
        sid = _session_id(session_id)
        async with read_session() as db:
            _, viewer = await classroom.subscriber_viewer(db, info.context.actor, sid, instructor_only=False)
        async with AsyncExitStack() as stack:
            if viewer.participant_id is not None:
                await stack.enter_async_context(live.presence_lease(sid, viewer.participant_id))
            seq, events = await stack.enter_async_context(live.session_stream(sid).subscribe())
            async with read_session() as db:
                snapshot = await classroom.session_snapshot(db, sid, viewer, seq)
            yield SessionSnapshot(
                seq=snapshot.seq,
                at=utcnow(),
                session=LiveSession.from_row(snapshot.session, viewer),
                status=snapshot.session.status,
                current_step=Step.from_row(snapshot.current_step) if snapshot.current_step else None,
                total_steps=snapshot.total_steps,
                participants=[Participant.from_row(row) for row in snapshot.participants],
            )
            if snapshot.session.status is rows.SessionStatus.ENDED:
                return
            async for event in events:
                yield _session_event(event, viewer)
                if event["type"] == "SessionStatusChanged" and event["status"] == rows.SessionStatus.ENDED:
                    return

    @strawberry.subscription(
        description="The open requests, then each one created, acknowledged or resolved."
    )
    async def help_requests(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[HelpRequestEvent, None]:
        sid = _session_id(session_id)
        async with read_session() as db:
            await classroom.subscriber_viewer(db, info.context.actor, sid, instructor_only=True)
        async with live.help_stream(sid).subscribe() as (seq, events):
            async with read_session() as db:
                open_requests = await classroom.open_help_requests(db, sid)
            yield HelpRequestSnapshot(
                seq=seq, at=utcnow(), requests=await _help_requests(info, open_requests)
            )
            async for event in events:
                yield _help_event(event)

    @strawberry.subscription(description="Pushed when the figures change, at most twice a second.")
    async def session_analytics(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[SessionAnalytics, None]:
        sid = _session_id(session_id)
        async with read_session() as db:
            await classroom.subscriber_viewer(db, info.context.actor, sid, instructor_only=True)
        channels = [
            live.session_stream(sid).channel,
            live.help_stream(sid).channel,
            live.presence_channel(sid),
        ]
        async with live.throttled_feed(
            ("analytics", sid), channels, partial(_compute_analytics, sid)
        ) as next_value:
            while True:
                yield SessionAnalytics.of(await next_value())
