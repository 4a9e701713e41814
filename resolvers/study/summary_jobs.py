"""The state of a summary job as the worker moves it: QUEUED → RUNNING → DONE or FAILED.

Every step locks the job row and checks its state first, so a job that arq runs twice (a retry, a
duplicate) writes one summary, one notification and at most one refund: a finished job is never
touched again.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.hub import publish
from broadcast.study import SummaryReady, summaries_channel
from core.db import after_commit
from models.base import utcnow
from models.study import (
    FINISHED_STATUSES,
    AiJobKind,
    JobStatus,
    StudySummary,
    Subject,
)
from resolvers import ai_jobs, notifications
from resolvers.study.settings import SettingsView, settings_for
from resolvers.study.summaries import spend_key

REFUND_REASON = "Refund: the summary could not be written"


@dataclass(frozen=True)
class SummaryWork:
    """What the worker needs to write a job's summary: the subject, the topic and the user's settings."""

    job_id: uuid.UUID
    subject: Subject
    topic: str | None
    settings: SettingsView


@dataclass(frozen=True)
class WrittenSummary:
    """The AI's answer and what it cost."""

    title: str
    content: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int


async def start(db: AsyncSession, job_id: uuid.UUID) -> SummaryWork | None:
    """Moves the job to RUNNING (again, when a try died on the way); None when it is finished or gone."""
    job = await ai_jobs.locked(db, job_id)
    if job is None or job.status in FINISHED_STATUSES:
        return None
    subject = await db.get(Subject, job.subject_id)
    # Deleting a subject deletes its jobs, and that waits for the lock held on this one.
    assert subject is not None, "a job's subject outlives it"
    job.status = JobStatus.RUNNING
    job.started_at = utcnow()
    settings = await settings_for(db, job.user_id, subject)
    return SummaryWork(job.id, subject, job.topic, settings)


async def finish(db: AsyncSession, work: SummaryWork, written: WrittenSummary) -> StudySummary | None:
    """Stores the summary and moves the job to DONE; tells the user in the app and, after the commit,
    on their `summaryReady` channel. None when another try finished the job first."""
    job = await ai_jobs.locked(db, work.job_id)
    if job is None or job.status is not JobStatus.RUNNING:
        return None
    summary = StudySummary(
        user_id=job.user_id,
        subject_id=job.subject_id,
        topic=job.topic,
        title=written.title,
        content=written.content,
        difficulty=work.settings.difficulty,
        language=work.settings.language,
        length=work.settings.summary_length,
        provider=written.provider,
        model=written.model,
        input_tokens=written.input_tokens,
        output_tokens=written.output_tokens,
    )
    db.add(summary)
    await db.flush()
    job.status = JobStatus.DONE
    job.summary_id = summary.id
    job.finished_at = utcnow()
    await notifications.notify(
        db,
        job.user_id,
        "summary_ready",
        variables={"title": summary.title},
        dedupe_key=f"summary_ready:{summary.id}",
        data={"summaryId": str(summary.id), "subjectId": str(work.subject.id)},
    )
    event = SummaryReady.of(summary)
    after_commit(db, lambda: publish(summaries_channel(job.user_id), event.payload()))
    return summary


async def fail(db: AsyncSession, job_id: uuid.UUID, error: str) -> bool:
    """Moves the job to FAILED with `error` and gives its credit back, once; False when it was finished."""
    return await ai_jobs.fail(db, job_id, error, spend_key=spend_key, refund_reason=REFUND_REASON)


async def unfinished(db: AsyncSession, older_than: timedelta) -> list[uuid.UUID]:
    return await ai_jobs.unfinished(db, AiJobKind.SUMMARY, older_than)
