"""What the study tests share: subjects made by an admin, a premium subscriber, summaries requested and
written the way the app does it (the mutation, then the real worker against the fake AI), and activity
recorded through `record_activity`, the one entry point that summaries, quizzes and learning sessions call."""

import json
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from core.auth import Role, UserActor
from core.db import read_session, transaction
from models.notifications import Channel, Notification
from models.study import ActivityKind, AiJob, Difficulty, StudySummary, Subject
from resolvers import accounts
from resolvers.billing import webhooks
from resolvers.study import subjects
from resolvers.study.activity import record_activity
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account
from tests.helpers.jobs import run_jobs
from tests.helpers.stripe_events import Lifetime, event

SUMMARY_FIELDS = (
    "id subject { id name } topic title content difficulty language length model createdAt isRead "
    "rating bookmarked"
)
REQUEST_SUMMARY = """
mutation($subjectId: ID!, $topic: String) {
  requestSummary(subjectId: $subjectId, topic: $topic) { id kind status error createdAt finishedAt }
}"""
AI_JOB = f"""
query($id: ID!) {{
  aiJob(id: $id) {{ id kind status error createdAt finishedAt summary {{ {SUMMARY_FIELDS} }} }}
}}"""


def actor(account: Account) -> UserActor:
    return UserActor(account.user.id, account.user.role)


async def make_subject(
    name: str = "Biology",
    *,
    requires_premium: bool = False,
    difficulty: Difficulty | None = None,
    description: str | None = None,
) -> Subject:
    draft = subjects.SubjectDraft(
        name=name,
        category="Science",
        description=description,
        default_difficulty=difficulty,
        requires_premium=requires_premium,
    )
    async with transaction() as db:
        return await subjects.create_subject(db, UserActor(uuid.uuid4(), Role.ADMIN), draft)


async def subscribe_to_premium(account: Account) -> None:
    """The account gets an ACTIVE premium_monthly subscription, as Stripe's webhook would give it."""
    lifetime = Lifetime(account.id)
    outcome = await webhooks.process_event(
        event("customer.subscription.created", lifetime.subscription(), int(time.time()))
    )
    assert outcome == "subscription ACTIVE", outcome


def summary_answer(prompt: str) -> str:
    """A well-behaved LLM: a summary whose title names the first line it was given."""
    first_line = prompt.splitlines()[0] if prompt else ""
    return json.dumps({"title": f"Summary: {first_line[:80]}", "content": "Key ideas.\n\n- One\n- Two"})


async def request_summary(
    gql: GraphQLClient, account: Account, subject_id: uuid.UUID, topic: str | None = None
) -> dict[str, Any]:
    """The job `requestSummary` answered with (the request must succeed)."""
    data = await gql.data(
        REQUEST_SUMMARY, {"subjectId": str(subject_id), "topic": topic}, token=account.token
    )
    job: dict[str, Any] = data["requestSummary"]
    return job


async def written_summary(
    gql: GraphQLClient, account: Account, subject_id: uuid.UUID, topic: str | None = None
) -> dict[str, Any]:
    """A summary requested by `account` and written by the worker (the AI must be configured)."""
    job = await request_summary(gql, account, subject_id, topic)
    await run_jobs()
    done = (await gql.data(AI_JOB, {"id": job["id"]}, token=account.token))["aiJob"]
    assert done["status"] == "DONE", done
    summary: dict[str, Any] = done["summary"]
    return summary


async def summary_rows() -> list[StudySummary]:
    async with read_session() as db:
        return list((await db.execute(select(StudySummary))).scalars())


async def job_count() -> int:
    async with read_session() as db:
        return int((await db.execute(select(func.count()).select_from(AiJob))).scalar_one())


async def set_timezone(account: Account, zone: str) -> None:
    async with transaction() as db:
        await accounts.update_profile(db, actor(account), accounts.ProfileChanges(timezone=zone))


async def record(
    account: Account,
    subject: Subject,
    kind: ActivityKind,
    occurred_at: datetime,
    *,
    topic: str | None = None,
    score: float | None = None,
    minutes: int = 0,
    source_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Records one activity in its own transaction; returns its source id (a new one unless given)."""
    source_id = source_id or uuid.uuid4()
    async with transaction() as db:
        await record_activity(
            db,
            user_id=account.user.id,
            subject_id=subject.id,
            kind=kind,
            source_id=source_id,
            occurred_at=occurred_at,
            topic=topic,
            score=score,
            minutes=minutes,
        )
    return source_id


async def notifications_of(account: Account) -> list[tuple[str, str | None]]:
    """The user's in-app notifications as (kind, dedupe key), oldest first."""
    async with read_session() as db:
        rows = await db.execute(
            select(col(Notification.kind), col(Notification.dedupe_key))
            .where(col(Notification.user_id) == account.user.id, col(Notification.channel) == Channel.IN_APP)
            .order_by(col(Notification.created_at))
        )
        return [(kind, dedupe_key) for kind, dedupe_key in rows]
