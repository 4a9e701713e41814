"""The steps every paid AI job shares (summaries, quiz generation): its row locked while a step runs, a
final failure that refunds the credit once, and the jobs a lost queue entry left unfinished."""

import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.base import utcnow
from models.study import FINISHED_STATUSES, JOB_ERROR_LENGTH, AiJob, AiJobKind, JobStatus
from resolvers.billing import credits


async def locked(db: AsyncSession, job_id: uuid.UUID) -> AiJob | None:
    return await db.get(AiJob, job_id, with_for_update=True, populate_existing=True)


async def fail(
    db: AsyncSession,
    job_id: uuid.UUID,
    error: str,
    *,
    spend_key: Callable[[uuid.UUID], str],
    refund_reason: str,
) -> bool:
    """Moves the job to FAILED with `error` and gives its credit back, once; False when it was finished."""
    job = await locked(db, job_id)
    if job is None or job.status in FINISHED_STATUSES:
        return False
    job.status = JobStatus.FAILED
    job.error = error[:JOB_ERROR_LENGTH]
    job.finished_at = utcnow()
    await credits.refund_spend(db, job.user_id, spend_key(job.id), refund_reason)
    return True


async def unfinished(db: AsyncSession, kind: AiJobKind, older_than: timedelta) -> list[uuid.UUID]:
    """Jobs of `kind` still QUEUED or RUNNING `older_than` after they were requested."""
    statement = select(col(AiJob.id)).where(
        col(AiJob.kind) == kind,
        col(AiJob.status).in_((JobStatus.QUEUED, JobStatus.RUNNING)),
        col(AiJob.created_at) < utcnow() - older_than,
    )
    return list((await db.execute(statement)).scalars())
