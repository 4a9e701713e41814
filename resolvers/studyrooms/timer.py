"""The focus timer: the host starts focus/break cycles; every phase is computed from `timer_started_at`.

Phase k (0, 1, 2, …) is FOCUS when k is even and BREAK when odd; boundary k is where phase k begins. A
boundary's moment is always `started_at` plus whole phases, never "now plus a duration", so the timer
does not drift however long it runs. The worker (workers/studyrooms.py) publishes `TimerChanged` at each
boundary: one arq job per boundary, deferred until it and idempotent by its id, each scheduling the next.
"""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.errors import BadInput, Forbidden
from core.jobs import enqueue_after_commit
from core.redis import redis
from models.base import utcnow
from models.studyrooms import MAX_BREAK_MINUTES, MAX_FOCUS_MINUTES, StudyRoom
from resolvers.studyrooms import live
from resolvers.studyrooms.access import open_member_room
from resolvers.studyrooms.phases import TimerState, boundary, phase_at, timer_at

BOUNDARY_JOB = "studyrooms.timer_boundary"
# How long the marker that a boundary was announced is kept: far longer than any retry of its job.
ANNOUNCED_TTL_SECONDS = 24 * 3600


def room_timer(room: StudyRoom, now: datetime | None = None) -> TimerState | None:
    """The room's running timer, or None when none runs (or the room is closed)."""
    if room.timer_started_at is None or room.focus_minutes is None or room.break_minutes is None:
        return None
    if room.closed_at is not None:
        return None
    return timer_at(room.timer_started_at, room.focus_minutes, room.break_minutes, now or utcnow())


def timer_view(state: TimerState | None) -> live.TimerView | None:
    return live.TimerView(phase=state.phase, ends_at=state.ends_at, round=state.round) if state else None


def _boundary_job_id(room_id: uuid.UUID, started_at: datetime, index: int) -> str:
    return f"{BOUNDARY_JOB}:{room_id}:{started_at.isoformat()}:{index}"


def schedule_boundary(db: AsyncSession, room: StudyRoom, index: int) -> None:
    """Queues (after the commit) the job that announces phase `index` at its start."""
    assert room.timer_started_at is not None and room.focus_minutes and room.break_minutes
    started_at = room.timer_started_at
    enqueue_after_commit(
        db,
        BOUNDARY_JOB,
        str(room.id),
        started_at.isoformat(),
        index,
        job_id=_boundary_job_id(room.id, started_at, index),
        defer_until=boundary(started_at, room.focus_minutes, room.break_minutes, index),
    )


def _bounded(value: int, field: str, largest: int) -> int:
    if not 1 <= value <= largest:
        raise BadInput(f"{field} must be between 1 and {largest}", field=field)
    return value


async def start_timer(
    db: AsyncSession, actor: Actor, room_id: uuid.UUID, focus_minutes: int, break_minutes: int
) -> TimerState:
    """The host (re)starts the cycles now, with a first FOCUS phase."""
    focus = _bounded(focus_minutes, "focusMinutes", MAX_FOCUS_MINUTES)
    pause = _bounded(break_minutes, "breakMinutes", MAX_BREAK_MINUTES)
    user, room, _ = await open_member_room(db, actor, room_id, lock=True)
    if room.host_id != user.user_id:
        raise Forbidden("Only the host starts the focus timer")
    room.timer_started_at = utcnow()
    room.focus_minutes, room.break_minutes = focus, pause
    await db.flush()
    state = phase_at(room.timer_started_at, focus, pause, 0)
    live.emit(db, room_id, live.TimerChanged(timer=timer_view(state)))
    schedule_boundary(db, room, 1)
    return state


async def announce_boundary(db: AsyncSession, room_id: uuid.UUID, started_at: datetime, index: int) -> bool:
    """The worker's half: announces phase `index` and schedules the next boundary, unless the room has
    closed or its timer was restarted since. Whether it announced; a repeated run (a retry) does not
    announce twice."""
    room = await db.get(StudyRoom, room_id)
    if room is None or room.closed_at is not None or room.timer_started_at != started_at:
        return False
    assert room.focus_minutes is not None and room.break_minutes is not None
    marker = f"{{studyroom:{room_id}}}:announced:{_boundary_job_id(room_id, started_at, index)}"
    if not await redis().set(marker, "1", nx=True, ex=ANNOUNCED_TTL_SECONDS):
        return False
    state = phase_at(started_at, room.focus_minutes, room.break_minutes, index)
    live.emit(db, room_id, live.TimerChanged(timer=timer_view(state)))
    schedule_boundary(db, room, index + 1)
    return True
