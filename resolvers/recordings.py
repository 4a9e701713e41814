"""Operations of the recordings domain: recording a demonstration, its event pipeline, its analysis.

Event batches are validated whole, then produced to Kafka (acks=all) or, when Kafka is unreachable,
written straight to Postgres with the same idempotent statement the worker's drain uses. Either way a
mutation returns only once its events are durable.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast import recordings as recording_events
from broadcast.hub import publish
from core.auth import Actor, ParticipantActor, Role, UserActor, require_role, require_user
from core.db import after_commit, read_session, transaction
from core.errors import BadInput, Conflict, NotFound, Unauthenticated
from core.jobs import enqueue_after_commit
from core.kafka import FALLBACK_BATCHES, FALLBACK_EVENTS, activity_producer, encode_messages
from core.pagination import Page, paginate
from models.base import utcnow
from models.classroom import Lecture, TargetAction, Task, UiTarget
from models.recordings import Recording, RecordingEvent, RecordingStatus
from resolvers import classroom

MAX_BATCH_EVENTS = 500
# An analysed step's UI target (GraphQL spelling) to the classroom's hint fields.
_SNAKE = {
    "viewId": "view_id",
    "text": "text",
    "contentDescription": "content_description",
    "bounds": "bounds",
    "packageName": "package_name",
    "className": "class_name",
}
MAX_TEXT_LENGTH = 2000
MAX_NAME_LENGTH = 255
MAX_BOUNDS_LENGTH = 64
MAX_EVENT_TYPE_LENGTH = 64
MAX_DATA_BYTES = 4096
MAX_TITLE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
# Phones' clocks drift; an event may claim to be a little in the future, and a buffer may hold old ones.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_EVENT_AGE = timedelta(days=7)
ACCEPTING_EVENTS = frozenset({RecordingStatus.RECORDING, RecordingStatus.COMPLETED})
ANALYZABLE = frozenset({RecordingStatus.COMPLETED, RecordingStatus.ANALYZED, RecordingStatus.FAILED})
ANALYZE_JOB = "recording.analyze"
RECORDING_KIND = "recording"
ACTIVITY_KIND = "activity"
EVENT_KINDS = frozenset({RECORDING_KIND, ACTIVITY_KIND})


class IngestPath(StrEnum):
    KAFKA = "KAFKA"
    DATABASE = "DATABASE"


@dataclass(frozen=True)
class RecordingEventDraft:
    event_id: str
    event_type: str
    occurred_at: datetime
    package_name: str | None = None
    class_name: str | None = None
    text: str | None = None
    content_description: str | None = None
    view_id: str | None = None
    bounds: str | None = None
    is_sensitive: bool | None = None
    data: Any = None


@dataclass(frozen=True)
class ActivityEventDraft:
    event_id: str
    event_type: str
    occurred_at: datetime
    session_id: str | None = None
    step_id: str | None = None
    recording_id: str | None = None
    data: Any = None


@dataclass(frozen=True)
class AppendResult:
    recording_id: uuid.UUID
    accepted: int
    path: IngestPath


def is_secret(*, is_sensitive: bool, data: Any, class_name: str | None, view_id: str | None) -> bool:
    """Marked sensitive by the phone, or typed into a password field (Android's isPassword, or a field
    that names itself one)."""
    if is_sensitive:
        return True
    if isinstance(data, dict) and (data.get("isPassword") is True or data.get("password") is True):
        return True
    names = f"{class_name or ''} {view_id or ''}".lower()
    return "password" in names or "passwd" in names


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not 1 <= len(cleaned) <= MAX_TITLE_LENGTH:
        raise BadInput(f"Title must be 1 to {MAX_TITLE_LENGTH} characters", field="title")
    return cleaned


def _clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    cleaned = description.strip()
    if len(cleaned) > MAX_DESCRIPTION_LENGTH:
        raise BadInput(
            f"Description must be at most {MAX_DESCRIPTION_LENGTH} characters", field="description"
        )
    return cleaned or None


class _EventChecker:
    """Validates one event of a batch; every error names the event's index and field."""

    def __init__(self, index: int, now: datetime) -> None:
        self.index = index
        self.now = now

    def fail(self, field: str, message: str) -> BadInput:
        return BadInput(
            f"Event {self.index}: {message}",
            field=f"events[{self.index}].{field}",
            extra={"index": self.index},
        )

    def uuid(self, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(str(value)))
        except ValueError as error:
            raise self.fail(field, f"{field} must be a UUID") from error

    def event_type(self, value: str) -> str:
        cleaned = value.strip()
        if not 1 <= len(cleaned) <= MAX_EVENT_TYPE_LENGTH:
            raise self.fail("eventType", f"eventType must be 1 to {MAX_EVENT_TYPE_LENGTH} characters")
        return cleaned

    def occurred_at(self, value: datetime) -> str:
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.fail("occurredAt", "occurredAt must carry a UTC offset")
        if value > self.now + MAX_CLOCK_SKEW:
            raise self.fail("occurredAt", "occurredAt is in the future")
        if value < self.now - MAX_EVENT_AGE:
            raise self.fail("occurredAt", "occurredAt is too far in the past")
        return value.astimezone(UTC).isoformat()

    def string(self, field: str, value: str | None, limit: int) -> str | None:
        if value is not None and len(value) > limit:
            raise self.fail(field, f"{field} must be at most {limit} characters")
        return value

    def data(self, value: Any) -> Any:
        if value is None:
            return None
        if len(json.dumps(value, separators=(",", ":"))) > MAX_DATA_BYTES:
            raise self.fail("data", f"data must be at most {MAX_DATA_BYTES} bytes of JSON")
        return value


def _check_batch_size(events: Sequence[object]) -> None:
    if not events:
        raise BadInput("A batch needs at least one event", field="events")
    if len(events) > MAX_BATCH_EVENTS:
        raise BadInput(
            f"A batch holds at most {MAX_BATCH_EVENTS} events, got {len(events)}",
            field="events",
            extra={"index": MAX_BATCH_EVENTS, "maxEvents": MAX_BATCH_EVENTS},
        )


def recording_event_rows(
    recording_id: uuid.UUID, drafts: Sequence[RecordingEventDraft]
) -> list[dict[str, Any]]:
    """The batch as rows for Kafka and Postgres; raises on the first invalid event, so none is kept."""
    _check_batch_size(drafts)
    now = utcnow()
    received_at = now.isoformat()
    rows = []
    for index, draft in enumerate(drafts):
        check = _EventChecker(index, now)
        class_name = check.string("className", draft.class_name, MAX_NAME_LENGTH)
        view_id = check.string("viewId", draft.view_id, MAX_NAME_LENGTH)
        data = check.data(draft.data)
        secret = is_secret(
            is_sensitive=bool(draft.is_sensitive), data=data, class_name=class_name, view_id=view_id
        )
        typed = check.string("text", draft.text, MAX_TEXT_LENGTH)
        rows.append(
            {
                "event_id": check.uuid("eventId", draft.event_id),
                "recording_id": str(recording_id),
                "event_type": check.event_type(draft.event_type),
                "occurred_at": check.occurred_at(draft.occurred_at),
                "received_at": received_at,
                "package_name": check.string("packageName", draft.package_name, MAX_NAME_LENGTH),
                "class_name": class_name,
                # Secrets are never stored, so no later reader (an LLM, a step, an export) can leak them.
                "text": None if secret else typed,
                "content_description": check.string(
                    "contentDescription", draft.content_description, MAX_TEXT_LENGTH
                ),
                "view_id": view_id,
                "bounds": check.string("bounds", draft.bounds, MAX_BOUNDS_LENGTH),
                "is_sensitive": secret,
                "data": data,
            }
        )
    return rows


# (column, Postgres type) in the order the unnest arrays are passed.
_RECORDING_EVENT_COLUMNS = (
    ("event_id", "uuid"),
    ("recording_id", "uuid"),
    ("event_type", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("package_name", "text"),
    ("class_name", "text"),
    ("text", "text"),
    ("content_description", "text"),
    ("view_id", "text"),
    ("bounds", "text"),
    ("is_sensitive", "boolean"),
    ("data", "jsonb"),
)
_ACTIVITY_EVENT_COLUMNS = (
    ("event_id", "uuid"),
    ("user_id", "uuid"),
    ("participant_id", "uuid"),
    ("session_id", "uuid"),
    ("step_id", "uuid"),
    ("recording_id", "uuid"),
    ("event_type", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("data", "jsonb"),
)


def _unnest_insert(table: str, columns: Sequence[tuple[str, str]], source_filter: str = "") -> str:
    """`INSERT … SELECT FROM unnest(…) ON CONFLICT (event_id) DO NOTHING`: one statement for a whole
    batch. Arrays travel as text (booleans as booleans) and are cast in SQL, so one JSON-safe row format
    serves Kafka and Postgres alike."""
    arrays = ", ".join(
        f"CAST(:{name} AS boolean[])" if kind == "boolean" else f"CAST(:{name} AS text[])"
        for name, kind in columns
    )
    names = ", ".join(name for name, _ in columns)
    casts = ", ".join(f"b.{name}::{kind}" for name, kind in columns)
    return (
        f"INSERT INTO {table} ({names}) "
        f"SELECT {casts} FROM unnest({arrays}) AS b({names}) {source_filter} "
        "ON CONFLICT (event_id) DO NOTHING"
    )


# Events of a recording that no longer exists are dropped rather than failing the whole batch forever.
_STORE_RECORDING_EVENTS = text(
    f"""
    WITH inserted AS (
        {
        _unnest_insert(
            "recording_events", _RECORDING_EVENT_COLUMNS, "JOIN recordings r ON r.id = b.recording_id::uuid"
        )
    }
        RETURNING recording_id
    ), counted AS (
        UPDATE recordings r SET event_count = r.event_count + c.n
        FROM (SELECT recording_id, count(*) AS n FROM inserted GROUP BY recording_id) c
        WHERE r.id = c.recording_id
        RETURNING c.n
    )
    SELECT coalesce(sum(n), 0) FROM counted
    """
)
_STORE_ACTIVITY_EVENTS = text(
    f"""
    WITH inserted AS ({_unnest_insert("activity_events", _ACTIVITY_EVENT_COLUMNS)} RETURNING 1)
    SELECT count(*) FROM inserted
    """
)


def _column_arrays(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]
) -> dict[str, list[Any]]:
    arrays: dict[str, list[Any]] = {}
    for name, kind in columns:
        if kind == "boolean":
            arrays[name] = [bool(row.get(name)) for row in rows]
        elif kind == "jsonb":
            arrays[name] = [None if row.get(name) is None else json.dumps(row[name]) for row in rows]
        else:
            arrays[name] = [row.get(name) for row in rows]
    return arrays


async def store_events(db: AsyncSession, kind: str, rows: Sequence[dict[str, Any]]) -> int:
    """Writes a batch of one kind with one statement; returns how many rows were new."""
    if not rows:
        return 0
    if kind == RECORDING_KIND:
        statement, columns = _STORE_RECORDING_EVENTS, _RECORDING_EVENT_COLUMNS
    elif kind == ACTIVITY_KIND:
        statement, columns = _STORE_ACTIVITY_EVENTS, _ACTIVITY_EVENT_COLUMNS
    else:
        raise ValueError(f"unknown event kind {kind!r}")
    inserted = (await db.execute(statement, _column_arrays(rows, columns))).scalar_one()
    return int(inserted)


async def _ingest(kind: str, key: str, rows: list[dict[str, Any]]) -> IngestPath:
    if await activity_producer().send(key, encode_messages(kind, rows), len(rows)):
        return IngestPath.KAFKA
    async with transaction() as db:
        await store_events(db, kind, rows)
    FALLBACK_BATCHES.inc()
    FALLBACK_EVENTS.inc(len(rows))
    return IngestPath.DATABASE


def _publish_status(db: AsyncSession, recording: Recording) -> None:
    channel = recording_events.status_channel(recording.id)
    payload = recording_events.status_changed(recording)
    after_commit(db, lambda: publish(channel, payload))


async def start_recording(
    db: AsyncSession, actor: Actor, title: str, description: str | None, lecture_id: uuid.UUID | None
) -> Recording:
    user = require_role(actor, Role.INSTRUCTOR)
    recording = Recording(
        owner_id=user.user_id,
        lecture_id=lecture_id,
        title=_clean_title(title),
        description=_clean_description(description),
    )
    if lecture_id is not None:
        await _require_own_lecture(db, user, lecture_id)
    db.add(recording)
    await db.flush()
    return recording


async def _require_own_lecture(db: AsyncSession, user: UserActor, lecture_id: uuid.UUID) -> None:
    lecture = await db.get(Lecture, lecture_id)
    if lecture is None or lecture.instructor_id != user.user_id:
        raise NotFound("Lecture")


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
    statement = select(Recording).where(Recording.owner_id == user.user_id)
    keys = [Recording.started_at, Recording.id]
    return await paginate(db, statement, keys, first=first, after=after)  # type: ignore[arg-type]


async def list_events(
    db: AsyncSession, recording_id: uuid.UUID, *, first: int | None, after: str | None
) -> Page[RecordingEvent]:
    """The recording's events in the phone's order (`occurredAt`, then id); the caller checked ownership."""
    statement = select(RecordingEvent).where(RecordingEvent.recording_id == recording_id)
    keys = [RecordingEvent.occurred_at, RecordingEvent.event_id]
    return await paginate(db, statement, keys, first=first, after=after, descending=False)  # type: ignore[arg-type]


async def append_events(
    actor: Actor, recording_id: uuid.UUID, drafts: Sequence[RecordingEventDraft]
) -> AppendResult:
    """Accepted while recording and after stop (the phone flushes its buffer on stop), never once the
    analysis has started. Owns its sessions: the Kafka path never holds a database connection."""
    user = require_user(actor)
    async with read_session() as db:
        recording = await db.get(Recording, recording_id)
    if recording is None or recording.owner_id != user.user_id:
        raise BadInput("Unknown recording", field="recordingId")
    if recording.status not in ACCEPTING_EVENTS:
        raise Conflict(f"A {recording.status.value} recording accepts no more events", field="recordingId")
    rows = recording_event_rows(recording.id, drafts)
    path = await _ingest(RECORDING_KIND, str(recording.id), rows)
    return AppendResult(recording_id=recording.id, accepted=len(rows), path=path)


async def log_activity(actor: Actor, drafts: Sequence[ActivityEventDraft]) -> int:
    """Students' behaviour logs. A session participant logs only for their own session."""
    if actor is None:
        raise Unauthenticated()
    _check_batch_size(drafts)
    now = utcnow()
    rows = []
    for index, draft in enumerate(drafts):
        check = _EventChecker(index, now)
        session_id = check.uuid("sessionId", draft.session_id)
        if isinstance(actor, ParticipantActor):
            if session_id is not None and session_id != str(actor.session_id):
                raise check.fail("sessionId", "sessionId must be your own session")
            session_id = str(actor.session_id)
        rows.append(
            {
                "event_id": check.uuid("eventId", draft.event_id),
                "user_id": str(actor.user_id) if isinstance(actor, UserActor) else None,
                "participant_id": str(actor.participant_id) if isinstance(actor, ParticipantActor) else None,
                "session_id": session_id,
                "step_id": check.uuid("stepId", draft.step_id),
                "recording_id": check.uuid("recordingId", draft.recording_id),
                "event_type": check.event_type(draft.event_type),
                "occurred_at": check.occurred_at(draft.occurred_at),
                "received_at": now.isoformat(),
                "data": check.data(draft.data),
            }
        )
    await _check_recordings_exist(rows, now)
    actor_id = actor.user_id if isinstance(actor, UserActor) else actor.participant_id
    key = rows[0]["session_id"] or str(actor_id)
    await _ingest(ACTIVITY_KIND, key, rows)
    return len(rows)


async def _check_recordings_exist(rows: Sequence[dict[str, Any]], now: datetime) -> None:
    wanted = {row["recording_id"] for row in rows if row["recording_id"] is not None}
    if not wanted:
        return
    async with read_session() as db:
        found = {
            str(found_id)
            for found_id in (
                await db.execute(select(Recording.id).where(Recording.id.in_([uuid.UUID(w) for w in wanted])))  # type: ignore[attr-defined]
            ).scalars()
        }
    for index, row in enumerate(rows):
        if row["recording_id"] is not None and row["recording_id"] not in found:
            raise _EventChecker(index, now).fail("recordingId", "unknown recording")


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
        Recording.status == RecordingStatus.PROCESSING  # type: ignore[arg-type]
    )
    return [(row.id, row.analysis_version) for row in await db.execute(statement)]


async def finish_analysis(
    db: AsyncSession,
    recording_id: uuid.UUID,
    version: int,
    *,
    steps: list[dict[str, Any]] | None,
    error: str | None,
    model: str | None,
) -> Recording | None:
    """Stores an analysis if `version` is still the one being processed; None for a stale job."""
    now = utcnow()
    statement = (
        update(Recording)
        .where(
            Recording.id == recording_id,  # type: ignore[arg-type]
            Recording.status == RecordingStatus.PROCESSING,  # type: ignore[arg-type]
            Recording.analysis_version == version,  # type: ignore[arg-type]
        )
        .values(
            status=RecordingStatus.ANALYZED if steps else RecordingStatus.FAILED,
            analysis=steps,
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
    if recording.status is not RecordingStatus.ANALYZED or not recording.analysis:
        raise Conflict(f"Only an ANALYZED recording can be converted; this one is {recording.status.value}")
    drafts = [
        classroom.StepDraft(
            title=step["title"],
            description=step.get("description"),
            target_action=TargetAction(step["targetAction"]),
            guide_text=step["guideText"],
            voice_guide_text=step.get("voiceGuideText"),
            target_hint=UiTarget(**{_SNAKE[key]: value for key, value in (step.get("target") or {}).items()}),
        )
        for step in recording.analysis
    ]
    task = await classroom.create_task(db, actor, lecture_id, recording.title, recording.description, drafts)
    recording.task_id = task.id
    recording.updated_at = utcnow()
    return task


async def converted_task(db: AsyncSession, task_id: uuid.UUID) -> Task | None:
    """The task a recording became; its owner already passed the recording's ownership check."""
    return await db.get(Task, task_id)


async def events_for_analysis(db: AsyncSession, recording_id: uuid.UUID) -> list[RecordingEvent]:
    statement = (
        select(RecordingEvent)
        .where(RecordingEvent.recording_id == recording_id)
        .order_by(RecordingEvent.occurred_at, RecordingEvent.event_id)  # type: ignore[arg-type]
    )
    return list((await db.execute(statement)).scalars())
