"""The summary jobs' safety net: a job whose queue entry was lost is queued again by the cron job."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from core.db import transaction
from core.redis import redis
from models.base import utcnow
from models.study import AiJob
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import make_account
from tests.helpers.fake_ai_server import FakeAiServer, fake_ai_server, grant, point_providers_at
from tests.helpers.jobs import run_jobs
from tests.helpers.study import AI_JOB, make_subject, request_summary, summary_answer
from workers import study


@pytest.fixture
async def fake_ai(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeAiServer]:
    async with fake_ai_server(summary_answer) as fake:
        point_providers_at(monkeypatch, fake)
        grant(monkeypatch, "openai")
        yield fake


async def _requested_at(job_id: str, ago: timedelta) -> None:
    async with transaction() as db:
        await db.execute(
            update(AiJob).where(col(AiJob.id) == uuid.UUID(job_id)).values(created_at=utcnow() - ago)
        )


async def test_a_summary_job_whose_queue_entry_was_lost_is_queued_again(
    gql: GraphQLClient, fake_ai: FakeAiServer
) -> None:
    # Given a paid summary job whose arq entry is gone (Redis lost it after the commit), requested a while ago
    student = await make_account()
    job = await request_summary(gql, student, (await make_subject()).id)
    await redis().flushdb()
    await _requested_at(job["id"], study.STALLED_AFTER + timedelta(seconds=1))
    # When the cron job runs, then the worker
    queued = await study.requeue_stalled_summaries({})
    await run_jobs()
    # Then the job was queued once more and is DONE
    assert queued == 1
    done = (await gql.data(AI_JOB, {"id": job["id"]}, token=student.token))["aiJob"]
    assert done["status"] == "DONE"


async def test_a_recent_or_finished_summary_job_is_left_alone(
    gql: GraphQLClient, fake_ai: FakeAiServer
) -> None:
    # Given one job just requested and one finished long ago
    student = await make_account()
    subject = await make_subject()
    finished = await request_summary(gql, student, subject.id)
    await run_jobs()
    await _requested_at(finished["id"], timedelta(hours=1))
    await request_summary(gql, student, subject.id)
    await redis().flushdb()
    # When the cron job runs
    queued = await study.requeue_stalled_summaries({})
    # Then neither is queued again
    assert queued == 0
