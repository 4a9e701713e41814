"""Who may do what: lecture ownership, how an actor sees a live session, and the session state machine.

Which action is legal in which session status is decided by `_ALLOWED` and nowhere else.
"""

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.auth import Actor, ParticipantActor, UserActor, require_user
from core.errors import Conflict, Forbidden, NotFound, Unauthenticated
from models.classroom import (
    Lecture,
    LectureRecord,
    LiveSession,
    Participant,
    ParticipantStatus,
    SessionStatus,
    Task,
)

# Lectures and tasks.


def owns(actor: Actor, instructor_id: uuid.UUID) -> bool:
    """The instructor themself, or an admin."""
    return isinstance(actor, UserActor) and (actor.user_id == instructor_id or actor.is_admin)


def can_see_lecture(actor: Actor, lecture: Lecture | LectureRecord) -> bool:
    """Active lectures are the public catalogue; archived ones are their owner's alone."""
    return lecture.is_active or owns(actor, lecture.instructor_id)


async def own_lecture(db: AsyncSession, actor: Actor, lecture_id: uuid.UUID) -> Lecture:
    """The lecture, locked, for its instructor or an admin to change or to add to.

    NOT_FOUND for a lecture the actor cannot see; FORBIDDEN for one they see but do not own.
    """
    require_user(actor)
    lecture = await db.get(Lecture, lecture_id, with_for_update=True)
    if lecture is None or not can_see_lecture(actor, lecture):
        raise NotFound("Lecture")
    if not owns(actor, lecture.instructor_id):
        raise Forbidden("Only the lecture's instructor may change it")
    return lecture


async def own_task(db: AsyncSession, actor: Actor, task_id: uuid.UUID) -> Task:
    """The task, locked: edits of one task's steps run one after another."""
    require_user(actor)
    statement = select(Task, Lecture).join(Lecture).where(col(Task.id) == task_id).with_for_update(of=Task)
    found = (await db.execute(statement)).first()
    if found is None or not can_see_lecture(actor, found[1]):
        raise NotFound("Task")
    if not owns(actor, found[1].instructor_id):
        raise Forbidden("Only the lecture's instructor may change its tasks")
    return found[0]


# Live sessions: who is looking.


class ViewerRole(StrEnum):
    INSTRUCTOR = "INSTRUCTOR"
    PARTICIPANT = "PARTICIPANT"
    GUEST = "GUEST"  # found the session by its code, has not joined


@dataclass(frozen=True)
class Viewer:
    role: ViewerRole
    participant_id: uuid.UUID | None = None
    # The account of a viewer who may see more of a participant than the role shows: an admin, or a
    # participant who joined signed in (their own email).
    account: UserActor | None = None

    @property
    def is_instructor(self) -> bool:
        return self.role is ViewerRole.INSTRUCTOR

    def may_see_participant(self, participant_id: uuid.UUID) -> bool:
        return self.is_instructor or participant_id == self.participant_id


GUEST = Viewer(ViewerRole.GUEST)
INSTRUCTOR = Viewer(ViewerRole.INSTRUCTOR)


async def viewer(db: AsyncSession, actor: Actor, session: LiveSession) -> Viewer | None:
    """How the actor sees the session; None when they have no part in it."""
    if owns(actor, session.instructor_id):
        if isinstance(actor, UserActor) and actor.is_admin:
            return Viewer(ViewerRole.INSTRUCTOR, account=actor)
        return INSTRUCTOR
    if isinstance(actor, ParticipantActor):
        if actor.session_id == session.id:
            return Viewer(ViewerRole.PARTICIPANT, actor.participant_id)
        return None
    if isinstance(actor, UserActor):
        participant_id = await db.scalar(
            select(col(Participant.id)).where(
                col(Participant.session_id) == session.id, col(Participant.user_id) == actor.user_id
            )
        )
        if participant_id is not None:
            return Viewer(ViewerRole.PARTICIPANT, participant_id, account=actor)
    return None


async def get_session(db: AsyncSession, session_id: uuid.UUID, *, lock: bool = False) -> LiveSession:
    session = await db.get(LiveSession, session_id, with_for_update=lock)
    if session is None:
        raise NotFound("Live session")
    return session


async def visible_session(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID
) -> tuple[LiveSession, Viewer]:
    """The session and how the actor sees it; NOT_FOUND for those who have no business knowing of it."""
    session = await get_session(db, session_id)
    seen_as = await viewer(db, actor, session)
    if seen_as is None:
        raise NotFound("Live session")
    return session, seen_as


async def controlled_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> LiveSession:
    """The session, locked, for its instructor (or an admin) to control."""
    if actor is None:
        raise Unauthenticated()
    session = await get_session(db, session_id, lock=True)
    if not owns(actor, session.instructor_id):
        raise Forbidden("Only the session's instructor controls it")
    return session


async def acting_participant(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, action: "Action | None", *, lock: bool = True
) -> tuple[LiveSession, Participant]:
    """The session and the actor's own participant in it; NOT_FOUND when they have none.

    With an action, the participant must still be in the session and the session's status allow it.
    """
    if actor is None:
        raise Unauthenticated()
    session = await get_session(db, session_id)
    seen_as = await viewer(db, actor, session)
    if seen_as is None or seen_as.participant_id is None:
        raise NotFound("Participant")
    participant = await db.get(Participant, seen_as.participant_id, with_for_update=lock)
    if participant is None:
        raise NotFound("Participant")
    if action is not None:
        transition(session, action)
        if participant.status is ParticipantStatus.LEFT:
            raise Conflict("You have left this session; join it again first")
    return session, participant


# The state machine.


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
# The statuses an action is legal in, and the status it leads to (None: unchanged).
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


def transition(session: LiveSession, action: Action) -> SessionStatus:
    """The status after `action`, or CONFLICT when the action is illegal now."""
    allowed, target = _ALLOWED[action]
    if session.status not in allowed:
        raise Conflict(f"Cannot {action.value.replace('_', ' ')} a session that is {session.status.value}")
    return target or session.status
