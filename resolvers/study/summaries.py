"""AI study summaries: requested for one SUMMARY credit, written by the `study.summarize` job (see
`summary_jobs`), then read, rated and bookmarked by the user who asked. Nobody else sees them: another
user's summary or job is NOT_FOUND, as if it did not exist.
"""

import uuid
from collections.abc import AsyncIterator
from typing import TypeAlias

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.streams import events_of
from broadcast.study import SummaryReady, summaries_channel
from core import text
from core.ai_providers import configured_providers
from core.auth import Actor, require_user
from core.errors import AiUnavailable, BadInput, Forbidden, NotFound
from core.jobs import enqueue_after_commit
from core.pagination import Page, paginate
from models.base import utcnow
from models.billing import CreditKind
from models.study import MAX_RATING, MIN_RATING, TOPIC_LENGTH, ActivityKind, AiJob, AiJobKind, StudySummary
from resolvers.billing import credits, plans
from resolvers.study.activity import record_activity
from resolvers.study.subjects import get_subject

SUMMARIZE_JOB = "study.summarize"


def spend_key(job_id: uuid.UUID) -> str:
    """The idempotency key of a summary job's credit: one spend per job, and one refund of it."""
    return f"summary:{job_id}"


def summarize_job_id(job_id: uuid.UUID) -> str:
    return f"{SUMMARIZE_JOB}:{job_id}"


async def request_summary(db: AsyncSession, actor: Actor, subject_id: uuid.UUID, topic: str | None) -> AiJob:
    """Queues a summary of the subject (on `topic`, when given) for one SUMMARY credit.

    Refused before anything is written: a bad topic (BAD_USER_INPUT), an unknown subject (NOT_FOUND), a
    premium subject without a paid plan (FORBIDDEN), no AI provider configured (AI_UNAVAILABLE), no
    credit left (PAYMENT_REQUIRED, the job rolled back with the transaction). The job is enqueued once
    the job row and the spend have committed together.
    """
    user = require_user(actor)
    topic = text.clean(topic, "topic", max_length=TOPIC_LENGTH, collapse_spaces=True)
    subject = await get_subject(db, actor, subject_id)
    if subject.requires_premium and not await plans.has_paid_plan(db, user.user_id):
        raise Forbidden("This subject needs a premium plan")
    if not configured_providers():
        raise AiUnavailable("No AI provider is configured")
    job = AiJob(user_id=user.user_id, kind=AiJobKind.SUMMARY, subject_id=subject.id, topic=topic)
    db.add(job)
    await db.flush()
    reason = f"Summary of {subject.name}"[: credits.MAX_REASON_LENGTH]
    await credits.spend(db, user.user_id, CreditKind.SUMMARY, reason, idempotency_key=spend_key(job.id))
    enqueue_after_commit(db, SUMMARIZE_JOB, str(job.id), job_id=summarize_job_id(job.id))
    return job


async def get_own_job(db: AsyncSession, actor: Actor, job_id: uuid.UUID) -> AiJob:
    user = require_user(actor)
    job = await db.get(AiJob, job_id)
    if job is None or job.user_id != user.user_id:
        raise NotFound("AiJob")
    return job


async def get_own(
    db: AsyncSession, actor: Actor, summary_id: uuid.UUID, *, for_update: bool = False
) -> StudySummary:
    user = require_user(actor)
    summary = await db.get(StudySummary, summary_id, with_for_update=for_update)
    if summary is None or summary.user_id != user.user_id:
        raise NotFound("StudySummary")
    return summary


async def list_summaries(
    db: AsyncSession,
    actor: Actor,
    *,
    subject_id: uuid.UUID | None,
    bookmarked: bool | None,
    first: int | None,
    after: str | None,
) -> Page[StudySummary]:
    """The user's own summaries, newest first, of one subject and bookmarked or not when asked."""
    user = require_user(actor)
    statement = select(StudySummary).where(col(StudySummary.user_id) == user.user_id)
    if subject_id is not None:
        statement = statement.where(col(StudySummary.subject_id) == subject_id)
    if bookmarked is not None:
        statement = statement.where(col(StudySummary.bookmarked) == bookmarked)
    keys = [col(StudySummary.created_at), col(StudySummary.id)]
    return await paginate(db, statement, keys, first=first, after=after)


async def mark_read(db: AsyncSession, actor: Actor, summary_id: uuid.UUID) -> StudySummary:
    """The first time only: marking a read summary again keeps when it was first read."""
    summary = await get_own(db, actor, summary_id, for_update=True)
    if summary.read_at is None:
        summary.read_at = utcnow()
        await record_activity(
            db,
            user_id=summary.user_id,
            subject_id=summary.subject_id,
            kind=ActivityKind.SUMMARY_READ,
            source_id=summary.id,
            occurred_at=summary.read_at,
            topic=summary.topic,
        )
    return summary


async def rate(db: AsyncSession, actor: Actor, summary_id: uuid.UUID, rating: int) -> StudySummary:
    if not MIN_RATING <= rating <= MAX_RATING:
        raise BadInput(f"rating must be between {MIN_RATING} and {MAX_RATING}", field="rating")
    summary = await get_own(db, actor, summary_id, for_update=True)
    summary.rating = rating
    return summary


async def bookmark(db: AsyncSession, actor: Actor, summary_id: uuid.UUID, bookmarked: bool) -> StudySummary:
    summary = await get_own(db, actor, summary_id, for_update=True)
    summary.bookmarked = bookmarked
    return summary


# What `summary_events` yields: the schema converts these, without importing broadcast/ itself.
SummaryEvent: TypeAlias = SummaryReady


def summary_events(actor: Actor) -> AsyncIterator[SummaryEvent]:
    """The signed-in user's summaries as the worker finishes them.

    The user is required here, before the stream subscribes to anything.
    """
    user = require_user(actor)
    return events_of(summaries_channel(user.user_id), SummaryReady)
