"""What the study tests share: subjects made by an admin, a premium subscriber, and summaries requested
and written the way the app does it (the mutation, then the real worker against the fake AI)."""

import json
import time
import uuid
from typing import Any

from sqlalchemy import func, select

from core.auth import Role, UserActor
from core.db import read_session, transaction
from models.study import AiJob, Difficulty, StudySummary, Subject
from resolvers.billing import webhooks
from resolvers.study import subjects
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
