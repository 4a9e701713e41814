"""Recordings: demonstrations recorded on a phone, their events, their analysis and its status stream."""

import uuid
from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.arguments import InputContext
from strawberry.types.base import get_object_definition

import models.classroom
import models.recordings as rows
from core.db import read_session, transaction
from core.errors import BadInput, NotFound
from resolvers.recordings import activity, ingest, lifecycle, live
from resolvers.recordings.events import MAX_BATCH_EVENTS, SentEvent
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.relay import Connection
from schema.ui_target import UiTarget

if TYPE_CHECKING:
    from schema.classroom import Task

RecordingStatus = strawberry.enum(rows.RecordingStatus, name="RecordingStatus")
IngestPath = strawberry.enum(
    ingest.IngestPath,
    name="IngestPath",
    description="Where a batch was made durable: acknowledged by Kafka, or written to Postgres "
    "because Kafka was unreachable.",
)


async def load_converted_tasks(task_ids: list[uuid.UUID]) -> list[models.classroom.Task | None]:
    async with read_session() as db:
        return await lifecycle.converted_tasks(db, task_ids)


@strawberry.type
class AnalyzedStep:
    id: strawberry.ID
    order: int
    title: str
    description: str | None
    target_action: str = strawberry.field(
        description="CLICK, LONG_CLICK, SCROLL, INPUT or NAVIGATE, as in a task step's TargetAction."
    )
    target: UiTarget | None
    source_event_ids: list[strawberry.ID]
    guide_text: str
    voice_guide_text: str | None

    @classmethod
    def of(cls, recording_id: uuid.UUID, version: int, order: int, step: rows.AnalyzedStep) -> "AnalyzedStep":
        return cls(
            id=strawberry.ID(f"{recording_id}:{version}:{order}"),
            order=order,
            title=step.title,
            description=step.description,
            target_action=step.target_action.value,
            target=UiTarget.of(step.target),
            source_event_ids=[strawberry.ID(i) for i in step.source_event_ids],
            guide_text=step.guide_text,
            voice_guide_text=step.voice_guide_text,
        )


@strawberry.type
class RecordingEvent:
    id: strawberry.ID
    event_id: strawberry.ID
    event_type: str
    occurred_at: datetime = strawberry.field(description="The phone's clock, exactly as it was sent.")
    received_at: datetime = strawberry.field(description="When the api received the event.")
    package_name: str | None
    class_name: str | None
    text: str | None = strawberry.field(description="Null for sensitive events: their text is never kept.")
    content_description: str | None
    view_id: str | None
    bounds: str | None
    is_sensitive: bool
    data: JSON | None

    @classmethod
    def from_row(cls, row: rows.RecordingEvent) -> "RecordingEvent":
        return cls(
            id=strawberry.ID(str(row.event_id)),
            event_id=strawberry.ID(str(row.event_id)),
            event_type=row.event_type,
            occurred_at=row.occurred_at,
            received_at=row.received_at,
            package_name=row.package_name,
            class_name=row.class_name,
            text=row.text,
            content_description=row.content_description,
            view_id=row.view_id,
            bounds=row.bounds,
            is_sensitive=row.is_sensitive,
            data=None if row.data is None else JSON(row.data),
        )


@strawberry.type
class Recording:
    id: strawberry.ID
    title: str
    description: str | None
    status: RecordingStatus
    event_count: int
    duration_seconds: int | None
    started_at: datetime
    ended_at: datetime | None
    analysis: list[AnalyzedStep] | None
    analysis_error: str | None
    lecture_id: strawberry.ID | None
    task_id: strawberry.Private[uuid.UUID | None]

    @fields.field("The task this recording was converted into.")
    async def task(self, info: Info) -> Annotated["Task", strawberry.lazy("schema.classroom")] | None:
        from schema.classroom import Task

        if self.task_id is None:
            return None
        row = await info.context.loader(load_converted_tasks).load(self.task_id)
        return Task.from_row(row) if row else None

    @fields.field("The events in the phone's order (occurredAt).")
    async def events(self, first: int | None = None, after: str | None = None) -> Connection[RecordingEvent]:
        async with read_session() as db:
            page = await lifecycle.list_events(db, uuid.UUID(self.id), first=first, after=after)
        return Connection.from_page(page, RecordingEvent.from_row)

    @classmethod
    def from_row(cls, row: rows.Recording) -> "Recording":
        duration = None
        if row.ended_at is not None:
            duration = int((row.ended_at - row.started_at).total_seconds())
        analysis = None
        if (steps := row.analyzed_steps()) is not None:
            analysis = [
                AnalyzedStep.of(row.id, row.analysis_version, order, step)
                for order, step in enumerate(steps, 1)
            ]
        return cls(
            id=strawberry.ID(str(row.id)),
            title=row.title,
            description=row.description,
            status=row.status,
            event_count=row.event_count,
            duration_seconds=duration,
            started_at=row.started_at,
            ended_at=row.ended_at,
            analysis=analysis,
            analysis_error=row.analysis_error,
            lecture_id=strawberry.ID(str(row.lecture_id)) if row.lecture_id else None,
            task_id=row.task_id,
        )


@strawberry.type
class AppendEventsResult:
    recording_id: strawberry.ID
    accepted: int = strawberry.field(description="Events of the batch made durable (duplicates included).")
    delivered_via: IngestPath


@strawberry.input
class RecordingEventInput:
    event_id: strawberry.ID = strawberry.field(
        description="Client-made UUID: resending a batch never duplicates its events."
    )
    event_type: str
    occurred_at: datetime
    package_name: str | None = None
    class_name: str | None = None
    text: str | None = None
    content_description: str | None = None
    view_id: str | None = None
    bounds: str | None = None
    is_sensitive: bool | None = None
    data: JSON | None = None


@strawberry.input
class ActivityEventInput:
    event_id: strawberry.ID
    event_type: str
    occurred_at: datetime
    session_id: strawberry.ID | None = None
    step_id: strawberry.ID | None = None
    recording_id: strawberry.ID | None = None
    data: JSON | None = None


def _as_sent(_input_type: type, value: Mapping[str, Any], _context: InputContext) -> SentEvent:
    """An event input reaches its resolver as the mapping GraphQL coerced, not as an instance: Strawberry
    would otherwise build one per event, looking up every field's type and name each time, which cost
    more than validating the batch (the resolver reads the mapping by the fields' GraphQL names)."""
    return value


# Strawberry's hook for types that build their own values from an input (as its Pydantic integration does).
for _event_input in (RecordingEventInput, ActivityEventInput):
    get_object_definition(_event_input, strict=True).from_input = _as_sent
SentRecordingEvents = Annotated[list[SentEvent], strawberry.argument(graphql_type=list[RecordingEventInput])]
SentActivityEvents = Annotated[list[SentEvent], strawberry.argument(graphql_type=list[ActivityEventInput])]


def _recording_id(value: strawberry.ID) -> uuid.UUID:
    return parse_id(value, "Recording")


@strawberry.type
class RecordingsQuery:
    @fields.field("The signed-in instructor's own recordings, newest first.")
    async def recordings(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Recording]:
        async with read_session() as db:
            page = await lifecycle.list_recordings(db, info.context.actor, first=first, after=after)
        return Connection.from_page(page, Recording.from_row)

    @strawberry.field
    async def recording(self, info: Info, id: strawberry.ID) -> Recording | None:
        try:
            recording_id = _recording_id(id)
        except NotFound:
            return None
        async with read_session() as db:
            row = await lifecycle.find_own(db, info.context.actor, recording_id)
        return Recording.from_row(row) if row else None


@strawberry.type
class RecordingsMutation:
    @strawberry.mutation
    async def start_recording(
        self,
        info: Info,
        title: str,
        description: str | None = None,
        lecture_id: strawberry.ID | None = None,
    ) -> Recording:
        lecture = None if lecture_id is None else parse_id(lecture_id, "Lecture")
        async with transaction() as db:
            row = await lifecycle.start_recording(db, info.context.actor, title, description, lecture)
        return Recording.from_row(row)

    @fields.mutation(
        f"Up to {MAX_BATCH_EVENTS} events per batch; an invalid event refuses the "
        "whole batch. Returns once the batch is durable (Kafka acknowledged it, or Postgres "
        "committed it)."
    )
    async def append_recording_events(
        self, info: Info, recording_id: strawberry.ID, events: SentRecordingEvents
    ) -> AppendEventsResult:
        try:
            parsed = _recording_id(recording_id)
        except NotFound as error:
            raise BadInput("Unknown recording", field="recordingId") from error
        result = await lifecycle.append_events(info.context.actor, parsed, events)
        return AppendEventsResult(
            recording_id=strawberry.ID(str(result.recording_id)),
            accepted=result.accepted,
            delivered_via=result.path,
        )

    @strawberry.mutation
    async def stop_recording(self, info: Info, id: strawberry.ID) -> Recording:
        async with transaction() as db:
            row = await lifecycle.stop_recording(db, info.context.actor, _recording_id(id))
        return Recording.from_row(row)

    @fields.mutation("Moves the recording to PROCESSING; the worker moves it on.")
    async def analyze_recording(self, info: Info, id: strawberry.ID) -> Recording:
        async with transaction() as db:
            row = await lifecycle.analyze_recording(db, info.context.actor, _recording_id(id))
        return Recording.from_row(row)

    @fields.mutation("The analysed steps as a new task of the lecture; once per recording.")
    async def convert_recording_to_task(
        self, info: Info, id: strawberry.ID, lecture_id: strawberry.ID
    ) -> Annotated["Task", strawberry.lazy("schema.classroom")]:
        from schema.classroom import Task

        async with transaction() as db:
            row = await lifecycle.convert_to_task(
                db, info.context.actor, _recording_id(id), parse_id(lecture_id, "Lecture")
            )
        return Task.from_row(row)

    @fields.mutation(
        f"Students' behaviour logs, up to {MAX_BATCH_EVENTS} per batch; returns how many were accepted."
    )
    async def log_activity(self, info: Info, events: SentActivityEvents) -> int:
        return await activity.log_activity(info.context.actor, events)


@strawberry.type
class RecordingsSubscription:
    @fields.subscription("The recording as it is now, then again after each status change (owner only).")
    async def recording_status(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Recording, None]:
        async for event in live.recording_status(info.context.actor, _recording_id(id)):
            yield Recording.from_row(event.recording)
