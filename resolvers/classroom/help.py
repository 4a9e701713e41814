"""Help requests: a participant asks, the session's instructor acknowledges and resolves, the participant
rates the help. A request on a step queues its diagnosis (`help.diagnose`, resolvers/classroom/diagnosis.py
and workers/help.py) after the commit."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, require_user
from core.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated
from core.jobs import enqueue_after_commit
from core.ratelimit import HELP_REQUESTS
from models.base import utcnow
from models.classroom import (
    MAX_HELP_RATING,
    MIN_HELP_RATING,
    HelpRequest,
    HelpStatus,
    Participant,
    ProgressStatus,
    Step,
)
from resolvers import notifications
from resolvers.classroom import live
from resolvers.classroom.access import (
    Action,
    acting_participant,
    controlled_session,
    get_session,
    viewer,
    visible_session,
)
from resolvers.classroom.loaders import live_steps
from resolvers.classroom.progress import progress_row, session_step

MAX_RESPONSE_LENGTH = 1000
DIAGNOSE_JOB = "help.diagnose"


async def request_help(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, step_id: uuid.UUID | None, message: str | None
) -> HelpRequest:
    session, participant = await acting_participant(db, actor, session_id, Action.REQUEST_HELP)
    cleaned = text.clean(message, "message", max_length=text.MESSAGE, multi_line=True)
    steps = await live_steps(db, session.task_id)
    step = session_step(steps, step_id) if step_id is not None else None
    # Counted once the request is valid, so a mistyped one costs nothing.
    await HELP_REQUESTS.enter(str(participant.id))
    diagnosis: live.HelpDiagnosis | None = None
    if step is not None:
        progress = await progress_row(db, session, participant, step)
        progress.status = ProgressStatus.HELP_NEEDED
        progress.updated_at = utcnow()
        current = next((s.position for s in steps if s.id == session.current_step_id), step.position)
        diagnosis = live.HelpDiagnosis(
            attempts=progress.attempts,
            seconds_on_step=int((utcnow() - (progress.started_at or utcnow())).total_seconds()),
            steps_behind=max(0, current - step.position),
        )
        await db.flush()
        live.emit(
            db, session.id, live.ProgressUpdated(progress=live.ProgressView.of(progress, participant, step))
        )
    request = HelpRequest(
        session_id=session.id,
        participant_id=participant.id,
        step_id=step.id if step else None,
        message=cleaned,
        diagnosis=diagnosis.stored() if diagnosis else None,
    )
    db.add(request)
    await db.flush()
    view = live.HelpRequestView.of(request, participant, step)
    live.emit_help(db, session.id, live.HelpRequestCreated(request=view))
    await notifications.notify(
        db,
        session.instructor_id,
        "help_requested",
        variables={
            "participant": participant.display_name,
            "session": session.title,
            "message": cleaned or (step.guide_text if step is not None else ""),
        },
        dedupe_key=f"help_requested:{request.id}",
        data={"sessionId": str(session.id), "helpRequestId": str(request.id)},
    )
    if diagnosis is not None:
        enqueue_after_commit(db, DIAGNOSE_JOB, str(request.id), job_id=diagnosis_job_id(request.id))
    return request


def diagnosis_job_id(request_id: uuid.UUID) -> str:
    """One job per request: arq ignores a second enqueue while the first is queued or its result kept."""
    return f"{DIAGNOSE_JOB}:{request_id}"


async def _controlled_help_request(db: AsyncSession, actor: Actor, request_id: uuid.UUID) -> HelpRequest:
    request = await db.get(HelpRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound("Help request")
    session = await get_session(db, request.session_id)
    if await viewer(db, actor, session) is None:
        raise NotFound("Help request")
    await controlled_session(db, actor, session.id)
    return request


async def publish_update(db: AsyncSession, request: HelpRequest) -> HelpRequest:
    """Publishes the changed request on the session's help stream once the transaction has committed."""
    await db.flush()
    participant = await db.get(Participant, request.participant_id)
    step = await db.get(Step, request.step_id) if request.step_id else None
    assert participant is not None
    view = live.HelpRequestView.of(request, participant, step)
    live.emit_help(db, request.session_id, live.HelpRequestUpdated(request=view))
    return request


async def acknowledge_help_request(db: AsyncSession, actor: Actor, request_id: uuid.UUID) -> HelpRequest:
    request = await _controlled_help_request(db, actor, request_id)
    if request.status is not HelpStatus.PENDING:
        raise Conflict(f"The help request is already {request.status.value}")
    request.status = HelpStatus.ACKNOWLEDGED
    request.acknowledged_at = utcnow()
    return await publish_update(db, request)


async def resolve_help_request(
    db: AsyncSession, actor: Actor, request_id: uuid.UUID, response: str | None
) -> HelpRequest:
    request = await _controlled_help_request(db, actor, request_id)
    if request.status is HelpStatus.RESOLVED:
        raise Conflict("The help request is already RESOLVED")
    request.response = text.clean(response, "response", max_length=MAX_RESPONSE_LENGTH, multi_line=True)
    request.status = HelpStatus.RESOLVED
    request.resolved_at = utcnow()
    request.resolved_by = require_user(actor).user_id
    participant = await db.get(Participant, request.participant_id)
    if request.response and participant is not None and participant.user_id is not None:
        # The answer reaches a signed-in participant who has since closed the app (SMS for seniors).
        session = await get_session(db, request.session_id)
        await notifications.notify(
            db,
            participant.user_id,
            "help_resolved",
            variables={"session": session.title, "response": request.response},
            dedupe_key=f"help_resolved:{request.id}",
            data={"sessionId": str(session.id), "helpRequestId": str(request.id)},
        )
    return await publish_update(db, request)


async def rate_help(db: AsyncSession, actor: Actor, request_id: uuid.UUID, rating: int) -> HelpRequest:
    """The participant who asked rates the help they got: once, after it was resolved."""
    if actor is None:
        raise Unauthenticated()
    request = await db.get(HelpRequest, request_id, with_for_update=True)
    seen_as = await viewer(db, actor, await get_session(db, request.session_id)) if request else None
    if request is None or seen_as is None or not seen_as.may_see_participant(request.participant_id):
        raise NotFound("Help request")
    if seen_as.participant_id != request.participant_id:
        raise Forbidden("Only the participant who asked for help may rate it")
    if not MIN_HELP_RATING <= rating <= MAX_HELP_RATING:
        raise BadInput(f"rating must be from {MIN_HELP_RATING} to {MAX_HELP_RATING}", field="rating")
    if request.status is not HelpStatus.RESOLVED:
        raise Conflict(f"Only resolved help can be rated; this request is {request.status.value}")
    if request.rating is not None:
        raise Conflict("This help has been rated already")
    request.rating = rating
    request.rated_at = utcnow()
    return await publish_update(db, request)


async def list_help_requests(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, status: HelpStatus | None
) -> list[HelpRequest]:
    """The instructor sees every request of the session; a participant their own."""
    _, seen_as = await visible_session(db, actor, session_id)
    statement = select(HelpRequest).where(col(HelpRequest.session_id) == session_id)
    if status is not None:
        statement = statement.where(col(HelpRequest.status) == status)
    if not seen_as.is_instructor:
        statement = statement.where(col(HelpRequest.participant_id) == seen_as.participant_id)
    return list((await db.execute(statement.order_by(col(HelpRequest.created_at)))).scalars())
