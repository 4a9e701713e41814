"""What the `help.diagnose` job reads and writes (workers/help.py asks the AI or the rules in between).

A help request on a step is created with the figures measured then (`HelpDiagnosis`: attempts, time on
the step, steps behind); the job completes that diagnosis once. Writing takes the request's row lock and
keeps a diagnosis already there, so an arq retry or a duplicate job changes nothing. A request resolved
before its diagnosis arrives still gets it, and the change is published like any other change of a
request: a client following `helpRequests` keeps the same state as one that queries it.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.classroom import HelpRequest, Participant, Step
from models.recordings import ActivityEvent
from resolvers.classroom import live
from resolvers.classroom.help import publish_update

# How many of the participant's latest activity events on the step a diagnosis reads.
RECENT_ACTIVITY = 200


@dataclass(frozen=True)
class DiagnosisCase:
    """A request still waiting for its diagnosis, with what the diagnosis is made from."""

    request: HelpRequest
    step: Step
    figures: live.HelpDiagnosis
    activity: list[ActivityEvent]


async def case_to_diagnose(db: AsyncSession, request_id: uuid.UUID) -> DiagnosisCase | None:
    """None when there is nothing to do: the request is gone, has no step, or is diagnosed already."""
    request = await db.get(HelpRequest, request_id)
    if request is None or request.step_id is None or request.diagnosis is None:
        return None
    figures = live.HelpDiagnosis.model_validate(request.diagnosis)
    step = await db.get(Step, request.step_id)
    participant = await db.get(Participant, request.participant_id)
    if figures.diagnosed or step is None or participant is None:
        return None
    return DiagnosisCase(request, step, figures, await recent_activity(db, request, participant))


async def recent_activity(
    db: AsyncSession, request: HelpRequest, participant: Participant
) -> list[ActivityEvent]:
    """The participant's latest activity events on the request's step, oldest first. A signed-in
    participant's phone logs as its user, an anonymous one as the participant."""
    by_whom = col(ActivityEvent.participant_id) == participant.id
    if participant.user_id is not None:
        by_whom = or_(by_whom, col(ActivityEvent.user_id) == participant.user_id)
    statement = (
        select(ActivityEvent)
        .where(
            col(ActivityEvent.session_id) == request.session_id,
            col(ActivityEvent.step_id) == request.step_id,
            by_whom,
        )
        .order_by(col(ActivityEvent.occurred_at).desc(), col(ActivityEvent.event_id))
        .limit(RECENT_ACTIVITY)
    )
    return list(reversed((await db.execute(statement)).scalars().all()))


async def undiagnosed_requests(db: AsyncSession, since: datetime) -> list[uuid.UUID]:
    """Requests on a step created since `since` that still wait for their diagnosis."""
    statement = select(col(HelpRequest.id)).where(
        col(HelpRequest.created_at) >= since,
        col(HelpRequest.step_id).is_not(None),
        col(HelpRequest.diagnosis).is_not(None),
        col(HelpRequest.diagnosis)["model"].as_string().is_(None),
    )
    return list((await db.execute(statement)).scalars())


async def store_diagnosis(db: AsyncSession, request_id: uuid.UUID, diagnosis: live.HelpDiagnosis) -> bool:
    """Stores the completed diagnosis and publishes the request after the commit; False when the request
    is gone or was diagnosed meanwhile (a duplicate job), which keeps what is there."""
    request = await db.get(HelpRequest, request_id, with_for_update=True)
    if request is None or request.diagnosis is None:
        return False
    if live.HelpDiagnosis.model_validate(request.diagnosis).diagnosed:
        return False
    request.diagnosis = diagnosis.stored()
    await publish_update(db, request)
    return True
