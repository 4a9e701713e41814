"""Progress: one record per (participant, step), reported by the participant's phone."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast import presence
from core.auth import Actor
from core.db import after_commit
from core.errors import BadInput
from models.base import utcnow
from models.classroom import LiveSession, Participant, ParticipantStatus, ProgressStatus, Step, StepProgress
from resolvers.classroom import live
from resolvers.classroom.access import Action, acting_participant
from resolvers.classroom.loaders import live_steps


def session_step(steps: list[Step], step_id: uuid.UUID) -> Step:
    step = next((step for step in steps if step.id == step_id), None)
    if step is None:
        raise BadInput("The step is not part of this session's task", field="stepId")
    return step


async def progress_row(
    db: AsyncSession, session: LiveSession, participant: Participant, step: Step
) -> StepProgress:
    """The one record per (participant, step); the caller holds the participant's lock."""
    progress = (
        await db.execute(
            select(StepProgress).where(
                col(StepProgress.participant_id) == participant.id, col(StepProgress.step_id) == step.id
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
    session, participant = await acting_participant(db, actor, session_id, Action.REPORT_PROGRESS)
    if status is ProgressStatus.NOT_STARTED:
        raise BadInput("Report IN_PROGRESS, COMPLETED or HELP_NEEDED", field="status")
    steps = await live_steps(db, session.task_id)
    step = session_step(steps, step_id)
    progress = await progress_row(db, session, participant, step)
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
    live.emit(
        db, session.id, live.ProgressUpdated(progress=live.ProgressView.of(progress, participant, step))
    )
    session_key, participant_key = session.id, participant.id
    after_commit(db, lambda: presence.heartbeat(session_key, participant_key))
    return progress, participant, step


async def _completed_count(db: AsyncSession, participant_id: uuid.UUID, steps: list[Step]) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(StepProgress)
        .where(
            col(StepProgress.participant_id) == participant_id,
            col(StepProgress.status) == ProgressStatus.COMPLETED,
            col(StepProgress.step_id).in_([step.id for step in steps]),
        )
    )
    return int(count or 0)
