"""A recording's life: started by an instructor, events appended, stopped, analysed by the worker,
converted into a task. Only its owner sees or changes it; to anyone else it does not exist."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broadcast.hub import publish
from broadcast.recordings import RecordingStatusChanged, status_channel
from core import text
from core.auth import Actor, Role, require_role, require_user
from core.db import after_commit, read_session, rows_by_ids
from core.errors import BadInput, Conflict, NotFound
from core.jobs import enqueue_after_commit
from core.pagination import Page, paginate
from models.base import utcnow
from models.classroom import Task
from models.recordings import AnalyzedStep, Recording, RecordingEvent, RecordingStatus
from resolvers import classroom
from resolvers.recordings.events import SentEvent, recording_event_rows
from resolvers.recordings.ingest import RECORDING_KIND, IngestPath, ingest

ACCEPTING_EVENTS = frozenset({RecordingStatus.RECORDING, RecordingStatus.COMPLETED})
ANALYZABLE = frozenset({RecordingStatus.COMPLETED, RecordingStatus.ANALYZED, RecordingStatus.FAILED})
ANALYZE_JOB = "recording.analyze"


@dataclass(frozen=True)
class AppendResult:
    recording_id: uuid.UUID
    accepted: int
    path: IngestPath


def _publish_status(db: AsyncSession, recording: Recording) -> None:
    channel = status_channel(recording.id)
    payload = RecordingStatusChanged(recording=recording).payload()
    after_commit(db, lambda: publish(channel, payload))


async def start_recording(
    db: AsyncSession, actor: Actor, title: str, description: str | None, lecture_id: uuid.UUID | None
) -> Recording:
    user = require_role(actor, Role.INSTRUCTOR)
    cleaned = text.clean(title, "title", max_length=text.TITLE, required=True, collapse_spaces=True)
    assert cleaned is not None
    recording = Recording(
        owner_id=user.user_id,
        lecture_id=lecture_id,
        title=cleaned,
        description=text.clean(description, "description", max_length=text.TEXT, multi_line=True),
    )
    if lecture_id is not None:
        await classroom.own_lecture(db, actor, lecture_id)
    db.add(recording)
    await db.flush()
    return recording


async def get_own(
    db: AsyncSession, actor: Actor, recording_id: uuid.UUID, *, for_update: bool = False
) -> Recording:
    """Only the owner sees or changes a recording; to anyone else it does not exist."""
    user = require_user(actor)
    recording = await db.get(Recording, recording_id, with_for_update=for_update)
    if recording is None or recording.owner_id != user.user_id:
        raise NotFound("Recording")
    return recording


async def find_own(db: AsyncSession, actor: Actor, recording_id: uuid.UUID) -> Recording | None:
    try:
        return await get_own(db, actor, recording_id)
    except NotFound:
        return None


async def list_recordings(
    db: AsyncSession, actor: Actor, *, first: int | None, after: str | None
) -> Page[Recording]:
    user = require_user(actor)
    statement = select(Recording).where(col(Recording.owner_id) == user.user_id)
    keys = [col(Recording.started_at), col(Recording.id)]
    return await paginate(db, statement, keys, first=first, after=after)


async def list_events(
    db: AsyncSession, recording_id: uuid.UUID, *, first: int | None, after: str | None
) -> Page[RecordingEvent]:
    """The recording's events in the phone's order (`occurredAt`, then id); the caller checked ownership."""
    statement = select(RecordingEvent).where(col(RecordingEvent.recording_id) == recording_id)
    keys = [col(RecordingEvent.occurred_at), col(RecordingEvent.event_id)]
    return await paginate(db, statement, keys, first=first, after=after, descending=False)


async def converted_tasks(db: AsyncSession, task_ids: Sequence[uuid.UUID]) -> list[Task | None]:
    """The tasks recordings became, for a DataLoader; their owner passed the recordings' check."""
    return await rows_by_ids(db, Task, task_ids)


async def append_events(actor: Actor, recording_id: uuid.UUID, events: Sequence[SentEvent]) -> AppendResult:
    """Accepted while recording and after stop (the phone flushes its buffer on stop), never once the
    analysis has started. Owns its sessions: the Kafka path never holds a database connection."""
    user = require_user(actor)
    async with read_session() as db:
        recording = await db.get(Recording, recording_id)
    if recording is None or recording.owner_id != user.user_id:
        raise BadInput("Unknown recording", field="recordingId")
    if recording.status not in ACCEPTING_EVENTS:
        raise Conflict(f"A {recording.status.value} recording accepts no more events", field="recordingId")
    rows = recording_event_rows(recording.id, events)
    path = await ingest(RECORDING_KIND, str(recording.id), rows)
    return AppendResult(recording_id=recording.id, accepted=len(rows), path=path)


async def stop_recording(db: AsyncSession, actor: Actor, recording_id: uuid.UUID) -> Recording:
    recording = await get_own(db, actor, recording_id, for_update=True)
    if recording.status is not RecordingStatus.RECORDING:
        raise Conflict(f"Only a RECORDING recording can be stopped; this one is {recording.status.value}")
    recording.status = RecordingStatus.COMPLETED
    recording.ended_at = recording.updated_at = utcnow()
    _publish_status(db, recording)
    return recording


async def analyze_recording(db: AsyncSession, actor: Actor, recording_id: uuid.UUID) -> Recording:
    """Moves the recording to PROCESSING and, once that is committed, queues the analysis.

    The new `analysis_version` is the job's ticket: only a job holding the current one may write.
    """
    recording = await get_own(db, actor, recording_id, for_update=True)
    if recording.status not in ANALYZABLE:
        raise Conflict(f"A {recording.status.value} recording cannot be analysed now")
    recording.status = RecordingStatus.PROCESSING
    recording.analysis_version += 1
    recording.analysis_error = None
    recording.updated_at = utcnow()
    version = recording.analysis_version
    enqueue_after_commit(
        db, ANALYZE_JOB, str(recording.id), version, job_id=analysis_job_id(recording.id, version)
    )
    _publish_status(db, recording)
    return recording


def analysis_job_id(recording_id: uuid.UUID, version: int) -> str:
    return f"{ANALYZE_JOB}:{recording_id}:{version}"


async def analyses_in_progress(db: AsyncSession) -> list[tuple[uuid.UUID, int]]:
    """Every PROCESSING recording with the version its job must hold."""
    statement = select(Recording.id, Recording.analysis_version).where(
        col(Recording.status) == RecordingStatus.PROCESSING
    )
    return [(recording_id, version) for recording_id, version in await db.execute(statement)]


async def finish_analysis(
    db: AsyncSession,
    recording_id: uuid.UUID,
    version: int,
    *,
    steps: Sequence[AnalyzedStep] | None,
    error: str | None,
    model: str | None,
) -> Recording | None:
    """Stores an analysis if `version` is still the one being processed; None for a stale job."""
    now = utcnow()
    statement = (
        update(Recording)
        .where(
            col(Recording.id) == recording_id,
            col(Recording.status) == RecordingStatus.PROCESSING,
            col(Recording.analysis_version) == version,
        )
        .values(
            status=RecordingStatus.ANALYZED if steps else RecordingStatus.FAILED,
            analysis=[step.model_dump(mode="json") for step in steps] if steps else None,
            analysis_error=error,
            analysis_model=model,
            analyzed_at=now,
            updated_at=now,
        )
        .returning(Recording)
        .execution_options(synchronize_session=False)
    )
    recording = (await db.execute(statement)).scalar_one_or_none()
    if recording is not None:
        _publish_status(db, recording)
    return recording


async def convert_to_task(
    db: AsyncSession, actor: Actor, recording_id: uuid.UUID, lecture_id: uuid.UUID
) -> Task:
    """The analysed steps as a task of one of the instructor's lectures; a recording converts once."""
    recording = await get_own(db, actor, recording_id, for_update=True)
    if recording.task_id is not None:
        raise Conflict("This recording was already converted into a task")
    steps = recording.analyzed_steps()
    if recording.status is not RecordingStatus.ANALYZED or not steps:
        raise Conflict(f"Only an ANALYZED recording can be converted; this one is {recording.status.value}")
    drafts = [
        classroom.StepDraft(
            title=step.title,
            description=step.description,
            target_action=step.target_action,
            guide_text=step.guide_text,
            voice_guide_text=step.voice_guide_text,
            target_hint=step.target,
        )
        for step in steps
    ]
    task = await classroom.create_task(db, actor, lecture_id, recording.title, recording.description, drafts)
    recording.task_id = task.id
    recording.updated_at = utcnow()
    return task


async def events_for_analysis(db: AsyncSession, recording_id: uuid.UUID) -> list[RecordingEvent]:
    statement = (
        select(RecordingEvent)
        .where(RecordingEvent.recording_id == recording_id)
        .order_by(col(RecordingEvent.occurred_at), col(RecordingEvent.event_id))
    )
    return list((await db.execute(statement)).scalars())
