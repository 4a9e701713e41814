"""Lectures, tasks and steps; live sessions with their participants, progress and help requests.

Which action is legal in which session status is decided by `_ALLOWED` and nowhere else. Steps are
never deleted or recreated (see models/classroom.py), so progress always points at a real step. Events
go out after the commit, through broadcast/classroom.py.
"""

import hashlib
import secrets
import statistics
import uuid
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast import classroom as live
from core.auth import (
    Actor,
    ParticipantActor,
    Role,
    UserActor,
    issue_participant_token,
    require_role,
    require_user,
)
from core.db import after_commit, grouped_by_key, rows_by_ids
from core.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated
from core.pagination import Page, paginate
from core.ratelimit import JOIN_CODE_GUESSES, client_key
from core.settings import get_settings
from models.base import utcnow
from models.classroom import (
    Enrollment,
    HelpRequest,
    HelpStatus,
    Lecture,
    LiveSession,
    Participant,
    ParticipantStatus,
    ProgressStatus,
    SessionControl,
    SessionStatus,
    Step,
    StepContent,
    StepProgress,
    StepRevision,
    TargetAction,
    Task,
)

MAX_TITLE_LENGTH = 200
MAX_TEXT_LENGTH = 2000
MAX_STEPS_PER_TASK = 200
MAX_DISPLAY_NAME_LENGTH = 40
MAX_MESSAGE_LENGTH = 500
MAX_RESPONSE_LENGTH = 1000
MIN_DEVICE_ID_LENGTH = 8
MAX_DEVICE_ID_LENGTH = 128
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0 or 1: read aloud and typed by seniors
JOIN_CODE_LENGTH = 6
STUCK_AFTER = timedelta(minutes=5)

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


# Inputs.


@dataclass(frozen=True, kw_only=True)
class UiHint:
    view_id: str | None = None
    text: str | None = None
    content_description: str | None = None
    bounds: str | None = None
    package_name: str | None = None
    class_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepDraft:
    title: str
    description: str | None = None
    target_action: TargetAction | None = None
    guide_text: str
    voice_guide_text: str | None = None
    target_hint: UiHint | None = None


def _clean(value: str | None, field: str, *, max_length: int, required: bool = False) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise BadInput(f"{field} must not be empty", field=field)
        return None
    if len(cleaned) > max_length:
        raise BadInput(f"{field} must be at most {max_length} characters", field=field)
    return cleaned


def _required(value: str, field: str, max_length: int = MAX_TITLE_LENGTH) -> str:
    cleaned = _clean(value, field, max_length=max_length, required=True)
    assert cleaned is not None
    return cleaned


def _hint_json(hint: UiHint | None) -> dict[str, Any] | None:
    if hint is None:
        return None
    values = {
        "viewId": hint.view_id,
        "text": hint.text,
        "contentDescription": hint.content_description,
        "bounds": hint.bounds,
        "packageName": hint.package_name,
        "className": hint.class_name,
    }
    cleaned = {key: _clean(value, f"targetHint.{key}", max_length=500) for key, value in values.items()}
    return cleaned if any(cleaned.values()) else None


def _content(draft: StepDraft) -> StepContent:
    return StepContent(
        title=_required(draft.title, "title"),
        description=_clean(draft.description, "description", max_length=MAX_TEXT_LENGTH),
        target_action=draft.target_action,
        guide_text=_required(draft.guide_text, "guideText", MAX_TEXT_LENGTH),
        voice_guide_text=_clean(draft.voice_guide_text, "voiceGuideText", max_length=MAX_TEXT_LENGTH),
        target_hint=_hint_json(draft.target_hint),
    )


# Batch reads behind the DataLoaders: one statement per batch, answers in the order of the keys.


async def lectures_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[Lecture | None]:
    return await rows_by_ids(db, Lecture, ids)


async def tasks_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[Task | None]:
    return await rows_by_ids(db, Task, ids)


async def steps_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[Step | None]:
    """Removed steps too: progress and help requests keep pointing at them."""
    return await rows_by_ids(db, Step, ids)


async def participants_by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> list[Participant | None]:
    return await rows_by_ids(db, Participant, ids)


async def tasks_by_lecture(db: AsyncSession, lecture_ids: list[uuid.UUID]) -> list[list[Task]]:
    statement = (
        select(Task)
        .where(Task.lecture_id.in_(lecture_ids))  # type: ignore[attr-defined]
        .order_by(Task.created_at, Task.id)
    )
    return grouped_by_key(lecture_ids, (await db.execute(statement)).scalars(), lambda row: row.lecture_id)


async def live_steps_by_task(db: AsyncSession, task_ids: list[uuid.UUID]) -> list[list[Step]]:
    statement = (
        select(Step)
        .where(Step.task_id.in_(task_ids), Step.removed_at.is_(None))  # type: ignore[attr-defined,union-attr]
        .order_by(Step.position)
    )
    return grouped_by_key(task_ids, (await db.execute(statement)).scalars(), lambda row: row.task_id)


async def enrolled_counts(db: AsyncSession, lecture_ids: list[uuid.UUID]) -> list[int]:
    statement = (
        select(Enrollment.lecture_id, func.count())
        .where(Enrollment.lecture_id.in_(lecture_ids))  # type: ignore[attr-defined]
        .group_by(Enrollment.lecture_id)
    )
    counts: dict[uuid.UUID, int] = {lecture_id: count for lecture_id, count in await db.execute(statement)}
    return [counts.get(i, 0) for i in lecture_ids]


async def sessions_by_lecture(db: AsyncSession, lecture_ids: list[uuid.UUID]) -> list[list[LiveSession]]:
    statement = (
        select(LiveSession)
        .where(LiveSession.lecture_id.in_(lecture_ids))  # type: ignore[attr-defined]
        .order_by(LiveSession.created_at.desc())  # type: ignore[attr-defined]
    )
    return grouped_by_key(lecture_ids, (await db.execute(statement)).scalars(), lambda row: row.lecture_id)


async def participants_by_session(db: AsyncSession, session_ids: list[uuid.UUID]) -> list[list[Participant]]:
    statement = (
        select(Participant)
        .where(Participant.session_id.in_(session_ids))  # type: ignore[attr-defined]
        .order_by(Participant.joined_at, Participant.id)
    )
    return grouped_by_key(session_ids, (await db.execute(statement)).scalars(), lambda row: row.session_id)


async def progress_by_participant(
    db: AsyncSession, participant_ids: list[uuid.UUID]
) -> list[list[StepProgress]]:
    statement = (
        select(StepProgress)
        .where(StepProgress.participant_id.in_(participant_ids))  # type: ignore[attr-defined]
        .order_by(StepProgress.started_at)
    )
    rows = (await db.execute(statement)).scalars()
    return grouped_by_key(participant_ids, rows, lambda row: row.participant_id)


# Lectures.


def _is_admin(actor: Actor) -> bool:
    return isinstance(actor, UserActor) and actor.is_admin


def owns(actor: Actor, instructor_id: uuid.UUID) -> bool:
    return isinstance(actor, UserActor) and (actor.user_id == instructor_id or actor.is_admin)


def can_see_lecture(actor: Actor, lecture: Lecture) -> bool:
    """Active lectures are the public catalogue; archived ones are their owner's alone."""
    return lecture.is_active or owns(actor, lecture.instructor_id)


async def _own_lecture(db: AsyncSession, actor: Actor, lecture_id: uuid.UUID) -> Lecture:
    require_user(actor)
    lecture = await db.get(Lecture, lecture_id, with_for_update=True)
    if lecture is None or not can_see_lecture(actor, lecture):
        raise NotFound("Lecture")
    if not owns(actor, lecture.instructor_id):
        raise Forbidden("Only the lecture's instructor may change it")
    return lecture


async def create_lecture(db: AsyncSession, actor: Actor, title: str, description: str | None) -> Lecture:
    instructor = require_role(actor, Role.INSTRUCTOR)
    lecture = Lecture(
        instructor_id=instructor.user_id,
        title=_required(title, "title"),
        description=_clean(description, "description", max_length=MAX_TEXT_LENGTH),
    )
    db.add(lecture)
    await db.flush()
    return lecture


async def update_lecture(
    db: AsyncSession, actor: Actor, lecture_id: uuid.UUID, title: str, description: str | None
) -> Lecture:
    lecture = await _own_lecture(db, actor, lecture_id)
    lecture.title = _required(title, "title")
    lecture.description = _clean(description, "description", max_length=MAX_TEXT_LENGTH)
    lecture.updated_at = utcnow()
    return lecture


async def archive_lecture(db: AsyncSession, actor: Actor, lecture_id: uuid.UUID) -> Lecture:
    lecture = await _own_lecture(db, actor, lecture_id)
    if lecture.is_active:
        lecture.is_active = False
        lecture.updated_at = utcnow()
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


async def list_lectures(
    db: AsyncSession, actor: Actor, *, mine: bool, first: int | None, after: str | None
) -> Page[Lecture]:
    statement = select(Lecture)
    if mine:
        statement = statement.where(Lecture.instructor_id == require_user(actor).user_id)
    else:
        statement = statement.where(Lecture.is_active.is_(True))  # type: ignore[attr-defined]
    keys = [Lecture.created_at, Lecture.id]
    return await paginate(db, statement, keys, first=first, after=after)  # type: ignore[arg-type]


# Tasks and steps.


async def get_task(db: AsyncSession, actor: Actor, task_id: uuid.UUID) -> Task:
    found = (await db.execute(select(Task, Lecture).join(Lecture).where(Task.id == task_id))).first()
    if found is None or not can_see_lecture(actor, found[1]):
        raise NotFound("Task")
    return found[0]


async def _own_task(db: AsyncSession, actor: Actor, task_id: uuid.UUID) -> Task:
    """The task, locked: edits of one task's steps run one after another."""
    require_user(actor)
    found = (
        await db.execute(
            select(Task, Lecture).join(Lecture).where(Task.id == task_id).with_for_update(of=Task)  # type: ignore[arg-type]
        )
    ).first()
    if found is None or not can_see_lecture(actor, found[1]):
        raise NotFound("Task")
    if not owns(actor, found[1].instructor_id):
        raise Forbidden("Only the lecture's instructor may change its tasks")
    return found[0]


async def _live_steps(db: AsyncSession, task_id: uuid.UUID) -> list[Step]:
    return (await live_steps_by_task(db, [task_id]))[0]


async def create_task(
    db: AsyncSession,
    actor: Actor,
    lecture_id: uuid.UUID,
    title: str,
    description: str | None,
    steps: list[StepDraft],
) -> Task:
    """Also the entry point for turning an analysed recording into a task."""
    lecture = await _own_lecture(db, actor, lecture_id)
    if not lecture.is_active:
        raise Conflict("This lecture is archived")
    if len(steps) > MAX_STEPS_PER_TASK:
        raise BadInput(f"A task has at most {MAX_STEPS_PER_TASK} steps", field="steps")
    task = Task(
        lecture_id=lecture.id,
        title=_required(title, "title"),
        description=_clean(description, "description", max_length=MAX_TEXT_LENGTH),
    )
    contents = [_content(draft) for draft in steps]
    db.add(task)
    await db.flush()
    db.add_all(
        Step(task_id=task.id, position=position, **content.model_dump())
        for position, content in enumerate(contents, start=1)
    )
    await db.flush()
    return task


async def _own_step(db: AsyncSession, actor: Actor, step_id: uuid.UUID) -> tuple[Task, Step]:
    step = await db.get(Step, step_id)
    if step is None or step.removed_at is not None:
        raise NotFound("Step")
    task = await _own_task(db, actor, step.task_id)
    await db.refresh(step, with_for_update=True)
    return task, step


async def update_step(db: AsyncSession, actor: Actor, step_id: uuid.UUID, draft: StepDraft) -> Step:
    task, step = await _own_step(db, actor, step_id)
    content = _content(draft)
    kept = StepContent.model_validate(step, from_attributes=True).model_dump()
    db.add(StepRevision(step_id=step.id, version=step.version, edited_by=require_user(actor).user_id, **kept))
    for name, value in content.model_dump().items():
        setattr(step, name, value)
    step.version += 1
    step.updated_at = utcnow()
    await db.flush()
    await _resend_current_steps(db, task.id)
    return step


async def add_step(
    db: AsyncSession, actor: Actor, task_id: uuid.UUID, draft: StepDraft, position: int | None
) -> Step:
    task = await _own_task(db, actor, task_id)
    content = _content(draft)
    steps = await _live_steps(db, task.id)
    if len(steps) >= MAX_STEPS_PER_TASK:
        raise BadInput(f"A task has at most {MAX_STEPS_PER_TASK} steps", field="taskId")
    index = len(steps) if position is None else position - 1
    if not 0 <= index <= len(steps):
        raise BadInput(f"position must be between 1 and {len(steps) + 1}", field="position")
    step = Step(task_id=task.id, position=len(steps) + 1, **content.model_dump())
    db.add(step)
    await db.flush()
    await _renumber(db, [*steps[:index], step, *steps[index:]])
    await _resend_current_steps(db, task.id)
    return step


async def remove_step(db: AsyncSession, actor: Actor, step_id: uuid.UUID) -> bool:
    task, step = await _own_step(db, actor, step_id)
    showing = await db.scalar(
        select(func.count())
        .select_from(LiveSession)
        .where(LiveSession.current_step_id == step.id, LiveSession.status != SessionStatus.ENDED)
    )
    if showing:
        raise Conflict("A live session is showing this step; move it on first")
    step.removed_at = utcnow()
    await db.flush()
    await _renumber(db, await _live_steps(db, task.id))
    await _resend_current_steps(db, task.id)
    return True


async def reorder_steps(
    db: AsyncSession, actor: Actor, task_id: uuid.UUID, step_ids: list[uuid.UUID]
) -> Task:
    task = await _own_task(db, actor, task_id)
    steps = {step.id: step for step in await _live_steps(db, task.id)}
    if len(step_ids) != len(steps) or set(step_ids) != set(steps):
        raise BadInput("stepIds must list every step of the task exactly once", field="stepIds")
    await _renumber(db, [steps[i] for i in step_ids])
    await _resend_current_steps(db, task.id)
    return task


async def _renumber(db: AsyncSession, ordered: list[Step]) -> None:
    """Positions 1…n in the given order.

    Postgres checks a unique index row by row, so the steps first step aside to negative positions.
    """
    if not ordered:
        return
    ids = [step.id for step in ordered]
    where = Step.id.in_(ids)  # type: ignore[attr-defined]
    await db.execute(update(Step).where(where).values(position=-Step.position - 1))
    positions = {step.id: position for position, step in enumerate(ordered, start=1)}
    await db.execute(update(Step).where(where).values(position=case(positions, value=Step.id)))
    for step in ordered:
        step.position = positions[step.id]


async def _resend_current_steps(db: AsyncSession, task_id: uuid.UUID) -> None:
    """A phone must never show a stale step: sessions of the task get the current step again."""
    sessions = (
        await db.execute(
            select(LiveSession).where(
                LiveSession.task_id == task_id,
                LiveSession.status != SessionStatus.ENDED,
                LiveSession.current_step_id.is_not(None),  # type: ignore[union-attr]
            )
        )
    ).scalars()
    steps = await _live_steps(db, task_id)
    by_id = {step.id: step for step in steps}
    for session in sessions:
        current = by_id.get(session.current_step_id)  # type: ignore[arg-type]
        if current is not None:
            _emit(db, session.id, live.step_changed(current, len(steps), None))


# Live sessions: who is looking, and what they may do.


class ViewerRole(StrEnum):
    INSTRUCTOR = "INSTRUCTOR"
    PARTICIPANT = "PARTICIPANT"
    GUEST = "GUEST"  # found the session by its code, has not joined


@dataclass(frozen=True)
class Viewer:
    role: ViewerRole
    participant_id: uuid.UUID | None = None

    @property
    def is_instructor(self) -> bool:
        return self.role is ViewerRole.INSTRUCTOR

    def may_see_participant(self, participant_id: uuid.UUID) -> bool:
        return self.is_instructor or participant_id == self.participant_id


GUEST = Viewer(ViewerRole.GUEST)
INSTRUCTOR = Viewer(ViewerRole.INSTRUCTOR)


async def _viewer(db: AsyncSession, actor: Actor, session: LiveSession) -> Viewer | None:
    if owns(actor, session.instructor_id):
        return INSTRUCTOR
    if isinstance(actor, ParticipantActor):
        if actor.session_id == session.id:
            return Viewer(ViewerRole.PARTICIPANT, actor.participant_id)
        return None
    if isinstance(actor, UserActor):
        participant_id = await db.scalar(
            select(Participant.id).where(
                Participant.session_id == session.id, Participant.user_id == actor.user_id
            )
        )
        if participant_id is not None:
            return Viewer(ViewerRole.PARTICIPANT, participant_id)
    return None


class Action(StrEnum):
    CREATE = "create"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    NEXT_STEP = "next_step"
    PREVIOUS_STEP = "previous_step"
    GO_TO_STEP = "go_to_step"
    MESSAGE = "message"
    JOIN = "join"
    REPORT_PROGRESS = "report_progress"
    REQUEST_HELP = "request_help"


_OPEN = frozenset({SessionStatus.WAITING, SessionStatus.IN_PROGRESS, SessionStatus.PAUSED})
_RUNNING = frozenset({SessionStatus.IN_PROGRESS})
# The state machine: the statuses an action is legal in, and the status it leads to (None: unchanged).
_ALLOWED: dict[Action, tuple[frozenset[SessionStatus], SessionStatus | None]] = {
    Action.START: (frozenset({SessionStatus.WAITING}), SessionStatus.IN_PROGRESS),
    Action.PAUSE: (_RUNNING, SessionStatus.PAUSED),
    Action.RESUME: (frozenset({SessionStatus.PAUSED}), SessionStatus.IN_PROGRESS),
    Action.END: (_OPEN, SessionStatus.ENDED),
    Action.NEXT_STEP: (_RUNNING, None),
    Action.PREVIOUS_STEP: (_RUNNING, None),
    Action.GO_TO_STEP: (_RUNNING, None),
    Action.MESSAGE: (_OPEN, None),
    Action.JOIN: (_OPEN, None),
    Action.REPORT_PROGRESS: (frozenset({SessionStatus.IN_PROGRESS, SessionStatus.PAUSED}), None),
    Action.REQUEST_HELP: (_OPEN, None),
}


def _transition(session: LiveSession, action: Action) -> SessionStatus:
    """The status after `action`, or CONFLICT when the action is illegal now."""
    allowed, target = _ALLOWED[action]
    if session.status not in allowed:
        raise Conflict(f"Cannot {action.value.replace('_', ' ')} a session that is {session.status.value}")
    return target or session.status


def _emit(db: AsyncSession, session_id: uuid.UUID, event: live.Event) -> None:
    stream = live.session_stream(session_id)
    after_commit(db, lambda: stream.publish(event))


def _emit_help(db: AsyncSession, session_id: uuid.UUID, event: live.Event) -> None:
    stream = live.help_stream(session_id)
    after_commit(db, lambda: stream.publish(event))


async def _session(db: AsyncSession, session_id: uuid.UUID, *, lock: bool = False) -> LiveSession:
    session = await db.get(LiveSession, session_id, with_for_update=lock)
    if session is None:
        raise NotFound("Live session")
    return session


async def _visible_session(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID
) -> tuple[LiveSession, Viewer]:
    """The session and how the actor sees it; NOT_FOUND for those who have no business knowing of it."""
    session = await _session(db, session_id)
    viewer = await _viewer(db, actor, session)
    if viewer is None:
        raise NotFound("Live session")
    return session, viewer


async def _controlled_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> LiveSession:
    if actor is None:
        raise Unauthenticated()
    session = await _session(db, session_id, lock=True)
    if not owns(actor, session.instructor_id):
        raise Forbidden("Only the session's instructor controls it")
    return session


def join_url(code: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}/join/{code}"


def _new_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


async def create_live_session(
    db: AsyncSession, actor: Actor, lecture_id: uuid.UUID, task_id: uuid.UUID | None, title: str | None
) -> LiveSession:
    lecture = await _own_lecture(db, actor, lecture_id)
    if not lecture.is_active:
        raise Conflict("This lecture is archived")
    if task_id is None:
        task = next(iter((await tasks_by_lecture(db, [lecture.id]))[0]), None)
        if task is None:
            raise BadInput("The lecture has no task to teach", field="taskId")
    else:
        task = await db.get(Task, task_id)
        if task is None or task.lecture_id != lecture.id:
            raise BadInput("The task is not part of this lecture", field="taskId")
    session_title = _clean(title, "title", max_length=MAX_TITLE_LENGTH) or task.title
    # A clash with an open session's code is unlikely (32^6 codes) but possible: draw again.
    for _ in range(5):
        session = LiveSession(
            lecture_id=lecture.id,
            task_id=task.id,
            instructor_id=lecture.instructor_id,
            title=session_title,
            code=_new_code(),
        )
        try:
            async with db.begin_nested():
                db.add(session)
        except IntegrityError:
            continue
        _audit(db, session, actor, Action.CREATE, SessionStatus.WAITING, None)
        return session
    raise Conflict("Could not allocate a join code; try again")


def _audit(
    db: AsyncSession,
    session: LiveSession,
    actor: Actor,
    action: Action,
    from_status: SessionStatus,
    from_step_id: uuid.UUID | None,
    message: str | None = None,
) -> None:
    db.add(
        SessionControl(
            session_id=session.id,
            actor_id=actor.user_id if isinstance(actor, UserActor) else None,
            action=action.value,
            from_status=from_status,
            to_status=session.status,
            from_step_id=from_step_id,
            to_step_id=session.current_step_id,
            message=message,
        )
    )


async def find_session(
    db: AsyncSession,
    actor: Actor,
    *,
    session_id: uuid.UUID | None,
    code: str | None,
    client_ip: str | None,
) -> tuple[LiveSession, Viewer]:
    """By id for the instructor and participants; by code for anyone (the code is what lets one join)."""
    if session_id is not None:
        return await _visible_session(db, actor, session_id)
    if code is None:
        raise BadInput("Give the session's id or its code", field="id")
    session = await _open_session_by_code(db, code, client_ip)
    return session, await _viewer(db, actor, session) or GUEST


async def _open_session_by_code(
    db: AsyncSession, code: str, client_ip: str | None, *, lock: bool = False
) -> LiveSession:
    """The open session with this code. Failed lookups are counted per address and limited."""
    key = client_key(client_ip)
    await JOIN_CODE_GUESSES.check(key)
    normalized = code.strip().upper()
    session = None
    if len(normalized) == JOIN_CODE_LENGTH and set(normalized) <= set(JOIN_CODE_ALPHABET):
        statement = select(LiveSession).where(
            LiveSession.code == normalized, LiveSession.status != SessionStatus.ENDED
        )
        if lock:
            # Shared: joins run side by side, but an `endSession` waits for them (and they for it).
            statement = statement.with_for_update(read=True)
        session = (await db.execute(statement)).scalar_one_or_none()
    if session is None:
        await JOIN_CODE_GUESSES.charge(key, 1)
        raise NotFound("Live session")
    return session


async def control(
    db: AsyncSession,
    actor: Actor,
    session_id: uuid.UUID,
    action: Action,
    *,
    step_id: uuid.UUID | None = None,
    message: str | None = None,
) -> LiveSession:
    """Every instructor control: one transition, one audit record, events after the commit."""
    session = await _controlled_session(db, actor, session_id)
    previous_status, previous_step = session.status, session.current_step_id
    session.status = _transition(session, action)
    message = _clean(message, "message", max_length=MAX_MESSAGE_LENGTH)
    steps = await _live_steps(db, session.task_id)
    target = _target_step(session, steps, action, step_id)
    if action is Action.START:
        if not steps:
            raise Conflict("The task has no steps yet")
        session.started_at = utcnow()
        await db.execute(
            update(Participant)
            .where(Participant.session_id == session.id, Participant.status == ParticipantStatus.WAITING)
            .values(status=ParticipantStatus.ACTIVE)
        )
    elif action is Action.END:
        session.ended_at = utcnow()
    if target is not None:
        session.current_step_id = target.id
    _audit(db, session, actor, action, previous_status, previous_step, message)
    await db.flush()
    if session.status is not previous_status:
        _emit(db, session.id, live.status_changed(session, previous_status))
    if target is not None:
        _emit(db, session.id, live.step_changed(target, len(steps), message))
    elif message is not None:
        _emit(db, session.id, live.instructor_message(message))
    return session


def _target_step(
    session: LiveSession, steps: list[Step], action: Action, step_id: uuid.UUID | None
) -> Step | None:
    """The step an action moves the session to; None when it does not move it."""
    if action is Action.START:
        return steps[0] if steps else None
    index = next((i for i, step in enumerate(steps) if step.id == session.current_step_id), -1)
    if action is Action.NEXT_STEP:
        if index + 1 >= len(steps):
            raise Conflict("The session is at the last step")
        return steps[index + 1]
    if action is Action.PREVIOUS_STEP:
        if index <= 0:
            raise Conflict("The session is at the first step")
        return steps[index - 1]
    if action is Action.GO_TO_STEP:
        target = next((step for step in steps if step.id == step_id), None)
        if target is None:
            raise BadInput("The step is not part of this session's task", field="stepId")
        return target
    return None


async def send_instructor_message(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, message: str
) -> bool:
    _required(message, "message", MAX_MESSAGE_LENGTH)
    await control(db, actor, session_id, Action.MESSAGE, message=message)
    return True


def _clean_device_id(device_id: str | None) -> str | None:
    if device_id is None:
        return None
    device_id = device_id.strip()
    if not MIN_DEVICE_ID_LENGTH <= len(device_id) <= MAX_DEVICE_ID_LENGTH:
        raise BadInput(
            f"deviceId must be {MIN_DEVICE_ID_LENGTH} to {MAX_DEVICE_ID_LENGTH} characters", field="deviceId"
        )
    return device_id


def _device_hash(session_id: uuid.UUID, device_id: str) -> str:
    """Per session, so one phone cannot be followed from session to session."""
    return hashlib.sha256(f"{session_id}:{device_id}".encode()).hexdigest()


@dataclass(frozen=True)
class JoinResult:
    session: LiveSession
    participant: Participant
    token: str


async def join_session(
    db: AsyncSession,
    actor: Actor,
    code: str,
    display_name: str,
    device_id: str | None,
    client_ip: str | None,
) -> JoinResult:
    """No account needed. The same account, device or participant token re-joining is the same participant."""
    name = " ".join(display_name.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME_LENGTH:
        raise BadInput(f"displayName must be 1 to {MAX_DISPLAY_NAME_LENGTH} characters", field="displayName")
    device_id = _clean_device_id(device_id)
    session = await _open_session_by_code(db, code, client_ip, lock=True)
    _transition(session, Action.JOIN)
    user_id = actor.user_id if isinstance(actor, UserActor) else None
    device_hash = _device_hash(session.id, device_id) if device_id and not user_id else None
    participant = await _find_participant(db, session, actor, user_id, device_hash)
    if participant is None:
        participant = await _insert_participant(db, session, user_id, device_hash, name)
    participant.display_name = name
    participant.last_seen_at = utcnow()
    if participant.status in (ParticipantStatus.LEFT, ParticipantStatus.WAITING):
        participant.left_at = None
        participant.status = (
            ParticipantStatus.WAITING if session.status is SessionStatus.WAITING else ParticipantStatus.ACTIVE
        )
    await db.flush()
    count = await _participant_count(db, session.id)
    _emit(db, session.id, live.participant_joined(participant, count))
    session_id, participant_id = session.id, participant.id
    after_commit(db, lambda: live.heartbeat(session_id, participant_id))
    return JoinResult(session, participant, issue_participant_token(participant.id, session.id))


async def _find_participant(
    db: AsyncSession,
    session: LiveSession,
    actor: Actor,
    user_id: uuid.UUID | None,
    device_hash: str | None,
) -> Participant | None:
    statement = select(Participant).where(Participant.session_id == session.id).with_for_update()
    if isinstance(actor, ParticipantActor) and actor.session_id == session.id:
        statement = statement.where(Participant.id == actor.participant_id)
    elif user_id is not None:
        statement = statement.where(Participant.user_id == user_id)
    elif device_hash is not None:
        statement = statement.where(Participant.device_hash == device_hash)
    else:
        return None
    return (await db.execute(statement)).scalar_one_or_none()


async def _insert_participant(
    db: AsyncSession,
    session: LiveSession,
    user_id: uuid.UUID | None,
    device_hash: str | None,
    name: str,
) -> Participant:
    """Inserts, or finds the row a concurrent join of the same account or device just inserted."""
    participant = Participant(
        session_id=session.id, user_id=user_id, device_hash=device_hash, display_name=name
    )
    try:
        async with db.begin_nested():
            db.add(participant)
    except IntegrityError:
        existing = await _find_participant(db, session, None, user_id, device_hash)
        assert existing is not None
        return existing
    return participant


async def _participant_count(db: AsyncSession, session_id: uuid.UUID) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(Participant)
        .where(Participant.session_id == session_id, Participant.status != ParticipantStatus.LEFT)
    )
    return int(count or 0)


async def _acting_participant(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, action: Action | None, *, lock: bool = True
) -> tuple[LiveSession, Participant]:
    """The session and the actor's own participant in it; NOT_FOUND when they have none.

    With an action, the participant must still be in the session and the session's status allow it.
    """
    if actor is None:
        raise Unauthenticated()
    session = await _session(db, session_id)
    viewer = await _viewer(db, actor, session)
    if viewer is None or viewer.participant_id is None:
        raise NotFound("Participant")
    participant = await db.get(Participant, viewer.participant_id, with_for_update=lock)
    if participant is None:
        raise NotFound("Participant")
    if action is not None:
        _transition(session, action)
        if participant.status is ParticipantStatus.LEFT:
            raise Conflict("You have left this session; join it again first")
    return session, participant


async def leave_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> bool:
    session, participant = await _acting_participant(db, actor, session_id, None)
    if participant.status is ParticipantStatus.LEFT:
        return False
    participant.status = ParticipantStatus.LEFT
    participant.left_at = participant.last_seen_at = utcnow()
    await db.flush()
    _emit(db, session.id, live.participant_left(participant, await _participant_count(db, session.id)))
    return True


async def heartbeat(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> bool:
    session, participant = await _acting_participant(db, actor, session_id, None, lock=False)
    if session.status is SessionStatus.ENDED:
        return False
    await live.heartbeat(session.id, participant.id)
    return True


def _session_step(steps: list[Step], step_id: uuid.UUID) -> Step:
    step = next((step for step in steps if step.id == step_id), None)
    if step is None:
        raise BadInput("The step is not part of this session's task", field="stepId")
    return step


async def _progress_row(
    db: AsyncSession, session: LiveSession, participant: Participant, step: Step
) -> StepProgress:
    """The one record per (participant, step); the caller holds the participant's lock."""
    progress = (
        await db.execute(
            select(StepProgress).where(
                StepProgress.participant_id == participant.id, StepProgress.step_id == step.id
            )
        )
    ).scalar_one_or_none()
    if progress is None:
        progress = StepProgress(
            session_id=session.id,
            participant_id=participant.id,
            step_id=step.id,
            attempts=1,
            started_at=utcnow(),
        )
        db.add(progress)
    return progress


async def report_progress(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, step_id: uuid.UUID, status: ProgressStatus
) -> tuple[StepProgress, Participant, Step]:
    session, participant = await _acting_participant(db, actor, session_id, Action.REPORT_PROGRESS)
    if status is ProgressStatus.NOT_STARTED:
        raise BadInput("Report IN_PROGRESS, COMPLETED or HELP_NEEDED", field="status")
    steps = await _live_steps(db, session.task_id)
    step = _session_step(steps, step_id)
    progress = await _progress_row(db, session, participant, step)
    now = utcnow()
    retrying = status is ProgressStatus.IN_PROGRESS and progress.status in (
        ProgressStatus.COMPLETED,
        ProgressStatus.HELP_NEEDED,
    )
    if retrying:
        progress.attempts += 1
    if status is ProgressStatus.COMPLETED and progress.status is not ProgressStatus.COMPLETED:
        progress.completed_at = now
    progress.status = status
    progress.updated_at = now
    participant.current_step_id = step.id
    participant.last_seen_at = now
    await db.flush()
    participant.completed_steps = await _completed_count(db, participant.id, steps)
    if status is ProgressStatus.COMPLETED and step.id == steps[-1].id:
        participant.status = ParticipantStatus.COMPLETED
    elif participant.status is ParticipantStatus.WAITING:
        participant.status = ParticipantStatus.ACTIVE
    await db.flush()
    _emit(db, session.id, live.progress_updated(progress, participant, step))
    session_key, participant_key = session.id, participant.id
    after_commit(db, lambda: live.heartbeat(session_key, participant_key))
    return progress, participant, step


async def _completed_count(db: AsyncSession, participant_id: uuid.UUID, steps: list[Step]) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(StepProgress)
        .where(
            StepProgress.participant_id == participant_id,
            StepProgress.status == ProgressStatus.COMPLETED,
            StepProgress.step_id.in_([step.id for step in steps]),  # type: ignore[attr-defined]
        )
    )
    return int(count or 0)


async def request_help(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, step_id: uuid.UUID | None, message: str | None
) -> HelpRequest:
    session, participant = await _acting_participant(db, actor, session_id, Action.REQUEST_HELP)
    cleaned = _clean(message, "message", max_length=MAX_MESSAGE_LENGTH)
    steps = await _live_steps(db, session.task_id)
    step = _session_step(steps, step_id) if step_id is not None else None
    diagnosis: dict[str, Any] | None = None
    if step is not None:
        progress = await _progress_row(db, session, participant, step)
        progress.status = ProgressStatus.HELP_NEEDED
        progress.updated_at = utcnow()
        current = next((s.position for s in steps if s.id == session.current_step_id), step.position)
        diagnosis = {
            "attempts": progress.attempts,
            "secondsOnStep": int((utcnow() - (progress.started_at or utcnow())).total_seconds()),
            "stepsBehind": max(0, current - step.position),
        }
        await db.flush()
        _emit(db, session.id, live.progress_updated(progress, participant, step))
    request = HelpRequest(
        session_id=session.id,
        participant_id=participant.id,
        step_id=step.id if step else None,
        message=cleaned,
        diagnosis=diagnosis,
    )
    db.add(request)
    await db.flush()
    _emit_help(db, session.id, live.help_request_event("HelpRequestCreated", request, participant, step))
    return request


async def _controlled_help_request(db: AsyncSession, actor: Actor, request_id: uuid.UUID) -> HelpRequest:
    request = await db.get(HelpRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound("Help request")
    session = await _session(db, request.session_id)
    if await _viewer(db, actor, session) is None:
        raise NotFound("Help request")
    await _controlled_session(db, actor, session.id)
    return request


async def _publish_help_update(db: AsyncSession, request: HelpRequest) -> HelpRequest:
    await db.flush()
    participant = await db.get(Participant, request.participant_id)
    step = await db.get(Step, request.step_id) if request.step_id else None
    assert participant is not None
    _emit_help(
        db, request.session_id, live.help_request_event("HelpRequestUpdated", request, participant, step)
    )
    return request


async def acknowledge_help_request(db: AsyncSession, actor: Actor, request_id: uuid.UUID) -> HelpRequest:
    request = await _controlled_help_request(db, actor, request_id)
    if request.status is not HelpStatus.PENDING:
        raise Conflict(f"The help request is already {request.status.value}")
    request.status = HelpStatus.ACKNOWLEDGED
    request.acknowledged_at = utcnow()
    return await _publish_help_update(db, request)


async def resolve_help_request(
    db: AsyncSession, actor: Actor, request_id: uuid.UUID, response: str | None
) -> HelpRequest:
    request = await _controlled_help_request(db, actor, request_id)
    if request.status is HelpStatus.RESOLVED:
        raise Conflict("The help request is already RESOLVED")
    request.response = _clean(response, "response", max_length=MAX_RESPONSE_LENGTH)
    request.status = HelpStatus.RESOLVED
    request.resolved_at = utcnow()
    request.resolved_by = require_user(actor).user_id
    return await _publish_help_update(db, request)


async def list_help_requests(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, status: HelpStatus | None
) -> list[HelpRequest]:
    """The instructor sees every request of the session; a participant their own."""
    _, viewer = await _visible_session(db, actor, session_id)
    statement = select(HelpRequest).where(HelpRequest.session_id == session_id)
    if status is not None:
        statement = statement.where(HelpRequest.status == status)
    if not viewer.is_instructor:
        statement = statement.where(HelpRequest.participant_id == viewer.participant_id)
    return list((await db.execute(statement.order_by(HelpRequest.created_at))).scalars())


async def open_help_requests(db: AsyncSession, session_id: uuid.UUID) -> list[HelpRequest]:
    statement = (
        select(HelpRequest)
        .where(HelpRequest.session_id == session_id, HelpRequest.status != HelpStatus.RESOLVED)
        .order_by(HelpRequest.created_at)
    )
    return list((await db.execute(statement)).scalars())


# Subscriptions.


async def subscriber_viewer(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, *, instructor_only: bool
) -> tuple[LiveSession, Viewer]:
    """Authorizes a subscription before its first event: FORBIDDEN for anyone else, known ids or not."""
    session = await db.get(LiveSession, session_id)
    viewer = await _viewer(db, actor, session) if session is not None else None
    if session is None or viewer is None or (instructor_only and not viewer.is_instructor):
        raise Forbidden("You may not follow this session")
    return session, viewer


@dataclass(frozen=True)
class Snapshot:
    seq: int
    session: LiveSession
    current_step: Step | None
    total_steps: int
    participants: list[Participant]


async def session_snapshot(db: AsyncSession, session_id: uuid.UUID, viewer: Viewer, seq: int) -> Snapshot:
    session = await _session(db, session_id)
    steps = await _live_steps(db, session.task_id)
    statement = select(Participant).where(Participant.session_id == session.id)
    if not viewer.is_instructor:
        statement = statement.where(Participant.id == viewer.participant_id)
    participants = list((await db.execute(statement.order_by(Participant.joined_at))).scalars())
    current = await db.get(Step, session.current_step_id) if session.current_step_id else None
    return Snapshot(seq, session, current, len(steps), participants)


# Analytics.


class StuckReason(StrEnum):
    NO_PROGRESS = "NO_PROGRESS"
    HELP_NEEDED = "HELP_NEEDED"


@dataclass(frozen=True)
class StepStats:
    step_id: uuid.UUID
    order: int
    title: str
    started: int
    completed: int
    completion_rate: float
    median_seconds: float | None
    delay_rate: float
    help_rate: float
    bottleneck_score: float


@dataclass(frozen=True)
class StuckParticipant:
    participant_id: uuid.UUID
    display_name: str
    step_id: uuid.UUID | None
    reason: StuckReason
    since: datetime


@dataclass(frozen=True)
class SessionAnalytics:
    session_id: uuid.UUID
    status: SessionStatus
    participants_total: int
    participants_online: int
    open_help_requests: int
    steps: tuple[StepStats, ...]
    stuck: tuple[StuckParticipant, ...]
    computed_at: datetime = field(compare=False)


async def session_analytics(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> SessionAnalytics:
    _, viewer = await _visible_session(db, actor, session_id)
    if not viewer.is_instructor:
        raise Forbidden("Only the session's instructor sees its analytics")
    return await compute_analytics(db, session_id)


async def compute_analytics(db: AsyncSession, session_id: uuid.UUID) -> SessionAnalytics:
    session = await _session(db, session_id)
    steps = await _live_steps(db, session.task_id)
    participants = (await participants_by_session(db, [session.id]))[0]
    progress = list(
        (await db.execute(select(StepProgress).where(StepProgress.session_id == session.id))).scalars()
    )
    requests = list(
        (await db.execute(select(HelpRequest).where(HelpRequest.session_id == session.id))).scalars()
    )
    presence = await live.presence(session.id)
    return analyse(session, steps, participants, progress, requests, presence.online, utcnow())


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def analyse(
    session: LiveSession,
    steps: list[Step],
    participants: list[Participant],
    progress: list[StepProgress],
    requests: list[HelpRequest],
    online: frozenset[uuid.UUID],
    now: datetime,
) -> SessionAnalytics:
    """Pure: the figures of SPEC.md from the session's rows, so tests can pin them exactly."""
    present = [p for p in participants if p.status is not ParticipantStatus.LEFT]
    by_step: dict[uuid.UUID, list[StepProgress]] = defaultdict(list)
    for record in progress:
        by_step[record.step_id].append(record)
    helped: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for request in requests:
        if request.step_id is not None:
            helped[request.step_id].add(request.participant_id)
    stats = tuple(_step_stats(step, by_step[step.id], helped[step.id], len(present), now) for step in steps)
    open_requests = [r for r in requests if r.status is not HelpStatus.RESOLVED]
    return SessionAnalytics(
        session_id=session.id,
        status=session.status,
        participants_total=len(present),
        participants_online=sum(1 for p in present if p.id in online),
        open_help_requests=len(open_requests),
        steps=stats,
        stuck=tuple(_stuck(session, present, progress, open_requests, now)),
        computed_at=now,
    )


def _step_stats(
    step: Step, records: list[StepProgress], helped: set[uuid.UUID], total: int, now: datetime
) -> StepStats:
    durations = [
        (r.completed_at - r.started_at).total_seconds()
        for r in records
        if r.status is ProgressStatus.COMPLETED and r.completed_at and r.started_at
    ]
    median = statistics.median(durations) if durations else None
    started = [r for r in records if r.started_at is not None]
    delayed = 0
    if median is not None:
        for record in started:
            assert record.started_at is not None
            end = record.completed_at if record.status is ProgressStatus.COMPLETED else now
            if end is not None and (end - record.started_at).total_seconds() >= 2 * median:
                delayed += 1
    completion = _rate(len(durations), total)
    delay_rate = _rate(delayed, len(started))
    help_rate = _rate(len(helped), total)
    return StepStats(
        step_id=step.id,
        order=step.position,
        title=step.title,
        started=len(started),
        completed=len(durations),
        completion_rate=completion,
        median_seconds=round(median, 3) if median is not None else None,
        delay_rate=delay_rate,
        help_rate=help_rate,
        bottleneck_score=round(0.4 * delay_rate + 0.4 * help_rate + 0.2 * (1 - completion), 4),
    )


def _stuck(
    session: LiveSession,
    participants: list[Participant],
    progress: list[StepProgress],
    open_requests: list[HelpRequest],
    now: datetime,
) -> list[StuckParticipant]:
    last_activity: dict[uuid.UUID, StepProgress] = {}
    for record in progress:
        latest = last_activity.get(record.participant_id)
        if latest is None or record.updated_at > latest.updated_at:
            last_activity[record.participant_id] = record
    asking = {}
    for request in open_requests:
        asking.setdefault(request.participant_id, request)
    stuck = []
    for participant in participants:
        if participant.status is not ParticipantStatus.ACTIVE:
            continue
        latest = last_activity.get(participant.id)
        request = asking.get(participant.id)
        if request is not None:
            stuck.append(
                StuckParticipant(
                    participant.id,
                    participant.display_name,
                    request.step_id,
                    StuckReason.HELP_NEEDED,
                    request.created_at,
                )
            )
        elif latest is not None and latest.status is ProgressStatus.HELP_NEEDED:
            stuck.append(
                StuckParticipant(
                    participant.id,
                    participant.display_name,
                    latest.step_id,
                    StuckReason.HELP_NEEDED,
                    latest.updated_at,
                )
            )
        elif session.status is SessionStatus.IN_PROGRESS:
            since = max(
                latest.updated_at if latest else participant.joined_at,
                session.started_at or participant.joined_at,
            )
            if now - since >= STUCK_AFTER:
                stuck.append(
                    StuckParticipant(
                        participant.id,
                        participant.display_name,
                        participant.current_step_id,
                        StuckReason.NO_PROGRESS,
                        since,
                    )
                )
    return stuck
