"""Live sessions: their lifecycle under the instructor's control, joining, leaving and progress.

Every instructor control is one transition of the state machine (access.py), one audit record, and
events after the commit.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast import presence
from core import text
from core.auth import Actor, ParticipantActor, UserActor, issue_participant_token
from core.db import after_commit
from core.errors import BadInput, Conflict, NotFound
from core.ratelimit import JOIN_CODE_GUESSES, client_key
from core.settings import get_settings
from models.base import utcnow
from models.classroom import (
    Lecture,
    LiveSession,
    Participant,
    ParticipantStatus,
    SessionControl,
    SessionStatus,
    Step,
    Task,
    TaskRecord,
)
from resolvers.classroom import live, starting
from resolvers.classroom.access import (
    GUEST,
    Action,
    Viewer,
    acting_participant,
    controlled_session,
    own_lecture,
    transition,
    viewer,
    visible_session,
)
from resolvers.classroom.loaders import live_steps, tasks_by_lecture

MAX_DISPLAY_NAME_LENGTH = 40
MIN_DEVICE_ID_LENGTH = 8
MAX_DEVICE_ID_LENGTH = 128
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0 or 1: read aloud and typed by seniors
JOIN_CODE_LENGTH = 6


def join_url(code: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}/join/{code}"


def _new_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


async def create_live_session(
    db: AsyncSession, actor: Actor, lecture_id: uuid.UUID, task_id: uuid.UUID | None, title: str | None
) -> LiveSession:
    lecture = await own_lecture(db, actor, lecture_id)
    if not lecture.is_active:
        raise Conflict("This lecture is archived")
    if task_id is None:
        task: Task | TaskRecord | None = next(iter((await tasks_by_lecture(db, [lecture.id]))[0]), None)
        if task is None:
            raise BadInput("The lecture has no task to teach", field="taskId")
    else:
        task = await db.get(Task, task_id)
        if task is None or task.lecture_id != lecture.id:
            raise BadInput("The task is not part of this lecture", field="taskId")
    session_title = text.clean(title, "title", max_length=text.TITLE) or task.title
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
        return await visible_session(db, actor, session_id)
    if code is None:
        raise BadInput("Give the session's id or its code", field="id")
    session = await _open_session_by_code(db, code, client_ip)
    return session, await viewer(db, actor, session) or GUEST


async def _open_session_by_code(
    db: AsyncSession, code: str, client_ip: str | None, *, lock: bool = False
) -> LiveSession:
    """The open session with this code. Failed lookups are counted per address and limited."""
    key = client_key(client_ip)
    await JOIN_CODE_GUESSES.check(key)
    normalized = code.strip().upper()
    session = None
    if len(normalized) == JOIN_CODE_LENGTH and set(normalized) <= set(JOIN_CODE_ALPHABET):
        # An archived lecture's sessions are ended with it; the join also covers rows from before that.
        statement = (
            select(LiveSession)
            .join(Lecture, col(Lecture.id) == col(LiveSession.lecture_id))
            .where(
                col(LiveSession.code) == normalized,
                col(LiveSession.status) != SessionStatus.ENDED,
                col(Lecture.is_active).is_(True),
            )
        )
        if lock:
            # Shared: joins run side by side, but an `endSession` waits for them (and they for it).
            statement = statement.with_for_update(read=True, of=LiveSession)
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
    session = await controlled_session(db, actor, session_id)
    previous_status, previous_step = session.status, session.current_step_id
    session.status = transition(session, action)
    message = text.clean(message, "message", max_length=text.MESSAGE, multi_line=True)
    steps = await live_steps(db, session.task_id)
    target = _target_step(session, steps, action, step_id)
    if action is Action.START:
        if not steps:
            raise Conflict("The task has no steps yet")
        session.started_at = utcnow()
        await db.execute(
            update(Participant)
            .where(
                col(Participant.session_id) == session.id,
                col(Participant.status) == ParticipantStatus.WAITING,
            )
            .values(status=ParticipantStatus.ACTIVE)
        )
        starting.announce_after_commit(db, session)
    elif action is Action.END:
        session.ended_at = utcnow()
    if target is not None:
        session.current_step_id = target.id
    _audit(db, session, actor, action, previous_status, previous_step, message)
    await db.flush()
    if session.status is not previous_status:
        live.emit(
            db, session.id, live.SessionStatusChanged(status=session.status, previous_status=previous_status)
        )
    if target is not None:
        live.emit(db, session.id, live.step_changed(target, len(steps), message))
    elif message is not None:
        live.emit(db, session.id, live.InstructorMessage(message=message))
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
    text.required(message, "message", max_length=text.MESSAGE, multi_line=True)
    await control(db, actor, session_id, Action.MESSAGE, message=message)
    return True


def _clean_device_id(device_id: str | None) -> str | None:
    cleaned = text.clean(device_id, "deviceId", max_length=MAX_DEVICE_ID_LENGTH)
    if device_id is not None and (cleaned is None or len(cleaned) < MIN_DEVICE_ID_LENGTH):
        raise BadInput(
            f"deviceId must be {MIN_DEVICE_ID_LENGTH} to {MAX_DEVICE_ID_LENGTH} characters", field="deviceId"
        )
    return cleaned


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
    """No account needed. Re-joining is the same participant only with proof: the participant token this
    session gave (sent as the Bearer token) or the same signed-in account. Anyone else, whatever device id
    they send, becomes a new participant."""
    name = text.clean(
        display_name, "displayName", max_length=MAX_DISPLAY_NAME_LENGTH, required=True, collapse_spaces=True
    )
    assert name is not None
    device_id = _clean_device_id(device_id)
    session = await _open_session_by_code(db, code, client_ip, lock=True)
    transition(session, Action.JOIN)
    user_id = actor.user_id if isinstance(actor, UserActor) else None
    device_hash = _device_hash(session.id, device_id) if device_id and not user_id else None
    participant = await _find_participant(db, session, actor, user_id)
    if participant is None:
        await _make_room(db, session)
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
    live.emit(
        db, session.id, live.ParticipantJoined(participant=live.ParticipantView.of(participant), count=count)
    )
    session_id, participant_id = session.id, participant.id
    after_commit(db, lambda: presence.heartbeat(session_id, participant_id))
    return JoinResult(session, participant, issue_participant_token(participant.id, session.id))


async def _make_room(db: AsyncSession, session: LiveSession) -> None:
    """CONFLICT when the session holds as many participants as it admits.

    Joins share the session's row lock, so new participants of one session are counted and inserted
    one at a time under a transaction-scoped advisory lock; re-joins do not wait for it.
    """
    await db.execute(select(func.pg_advisory_xact_lock(_lock_key(session.id))))
    joined = await db.scalar(
        select(func.count()).select_from(Participant).where(col(Participant.session_id) == session.id)
    )
    if int(joined or 0) >= get_settings().max_participants_per_session:
        raise Conflict("This session is full")


def _lock_key(session_id: uuid.UUID) -> int:
    """A signed 64-bit advisory lock key for the session."""
    return int.from_bytes(session_id.bytes[:8], "big", signed=True)


async def _find_participant(
    db: AsyncSession, session: LiveSession, actor: Actor, user_id: uuid.UUID | None
) -> Participant | None:
    """The participant the actor has proven to be: by their participant token for this session, or by
    their account. A device id proves nothing (anyone can send any), so it never finds anyone."""
    statement = select(Participant).where(col(Participant.session_id) == session.id).with_for_update()
    if isinstance(actor, ParticipantActor) and actor.session_id == session.id:
        statement = statement.where(col(Participant.id) == actor.participant_id)
    elif user_id is not None:
        statement = statement.where(col(Participant.user_id) == user_id)
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
    """Inserts a participant, or finds the one a concurrent join of the same account just inserted.

    The device hash is kept for the first participant of a device only (it is unique per session); a
    later one from the same device is a new participant without it.
    """
    for hash_kept in dict.fromkeys((device_hash, None)):
        participant = Participant(
            session_id=session.id, user_id=user_id, device_hash=hash_kept, display_name=name
        )
        try:
            async with db.begin_nested():
                db.add(participant)
        except IntegrityError:
            if user_id is not None:
                existing = await _find_participant(db, session, None, user_id)
                assert existing is not None
                return existing
            continue
        return participant
    raise Conflict("Could not join the session; try again")


async def _participant_count(db: AsyncSession, session_id: uuid.UUID) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(Participant)
        .where(col(Participant.session_id) == session_id, col(Participant.status) != ParticipantStatus.LEFT)
    )
    return int(count or 0)


async def leave_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> bool:
    session, participant = await acting_participant(db, actor, session_id, None)
    if participant.status is ParticipantStatus.LEFT:
        return False
    participant.status = ParticipantStatus.LEFT
    participant.left_at = participant.last_seen_at = utcnow()
    await db.flush()
    count = await _participant_count(db, session.id)
    live.emit(
        db, session.id, live.ParticipantLeft(participant=live.ParticipantView.of(participant), count=count)
    )
    return True


async def heartbeat(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> bool:
    session, participant = await acting_participant(db, actor, session_id, None, lock=False)
    if session.status is SessionStatus.ENDED:
        return False
    await presence.heartbeat(session.id, participant.id)
    return True
