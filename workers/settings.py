"""The arq worker: its jobs, the Kafka drain beside them, and its start-up and shut-down."""

import asyncio
import dataclasses
from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, func
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import ai_providers
from core.db import dispose_engine
from core.heap import freeze_startup_heap
from core.jobs import close_job_queue, redis_settings
from core.logging import configure_logging
from core.redis import close_redis
from core.settings import Settings
from resolvers.classroom.starting import SESSION_STARTING_JOB
from resolvers.notifications.pipeline import DELIVER_JOB
from resolvers.phone import SEND_CODE_JOB
from workers import (
    analysis,
    billing,
    help,
    learning,
    notifications,
    quiz_essays,
    quiz_generation,
    study,
    study_goals,
    studyrooms,
)
from workers.ingest import Drain


async def startup(ctx: dict[str, Any]) -> None:
    configure_logging()
    drain = Drain.from_settings()
    ctx["drain"] = drain
    ctx["drain_task"] = asyncio.create_task(drain.run(), name="activity-drain")
    freeze_startup_heap()


async def shutdown(ctx: dict[str, Any]) -> None:
    # The drain finishes and commits the batch in hand before the connections below close.
    drain: Drain | None = ctx.get("drain")
    if drain is not None:
        drain.stop()
        await ctx["drain_task"]
    await ai_providers.close_clients()
    await notifications.close_senders(ctx)
    await close_job_queue()
    await close_redis()
    await dispose_engine()


class WorkerSettings:
    """What every worker runs. The Redis address is not here: it comes from the settings when a worker is
    built (`worker_settings`), never when this module is imported."""

    functions: ClassVar[list[Function]] = [
        func(notifications.send_welcome, name="notification.welcome", max_tries=5),
        # Retries of a failed send are new jobs with their own backoff (resolvers.notifications.delivery);
        # arq's own retries cover a worker lost mid-job, and the claim keeps them from sending twice.
        func(notifications.deliver, name=DELIVER_JOB, max_tries=5),
        func(notifications.send_phone_code, name=SEND_CODE_JOB, max_tries=3),
        func(notifications.notify_session_starting, name=SESSION_STARTING_JOB, max_tries=5),
        func(analysis.analyze_recording, name="recording.analyze", max_tries=analysis.MAX_TRIES),
        func(billing.refresh_subscription, name="billing.refresh_subscription", max_tries=billing.MAX_TRIES),
        func(help.diagnose_help_request, name="help.diagnose", max_tries=help.MAX_TRIES),
        func(study.summarize, name="study.summarize", max_tries=study.MAX_TRIES),
        func(quiz_essays.grade_essay, name="quiz.grade_essay", max_tries=quiz_essays.MAX_TRIES),
        func(quiz_generation.generate, name="quiz.generate", max_tries=quiz_generation.MAX_TRIES),
        func(studyrooms.timer_boundary, name="studyrooms.timer_boundary", max_tries=studyrooms.MAX_TRIES),
    ]
    cron_jobs: ClassVar[list[CronJob]] = [
        cron(notifications.sweep, name="notification.sweep", second=30, unique=True),
        cron(
            analysis.requeue_stalled_analyses,
            name="recording.requeue_stalled",
            minute=set(range(0, 60, 5)),
            run_at_startup=True,
            unique=True,
        ),
        cron(
            help.requeue_undiagnosed,
            name="help.requeue_undiagnosed",
            second=30,
            run_at_startup=True,
            unique=True,
        ),
        cron(
            study_goals.close_goals,
            name="study.close_goals",
            minute=set(range(0, 60, 10)),
            run_at_startup=True,
            unique=True,
        ),
        cron(
            study.requeue_stalled_summaries,
            name="study.requeue_stalled_summaries",
            minute=set(range(0, 60, 5)),
            unique=True,
        ),
        cron(
            quiz_essays.requeue_stalled_essays,
            name="quiz.requeue_stalled_essays",
            minute=set(range(1, 60, 5)),
            unique=True,
        ),
        cron(
            quiz_generation.requeue_stalled_generations,
            name="quiz.requeue_stalled_generations",
            minute=set(range(2, 60, 5)),
            unique=True,
        ),
        cron(
            learning.end_timed_out,
            name="learning.end_timed_out",
            minute=set(range(0, 60, 5)),
            run_at_startup=True,
            unique=True,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 20
    job_timeout = 300
    keep_result = 3600
    handle_signals = True


# How long the worker rides out a Redis outage (a restart, a failover) before it gives up and exits:
# every Redis command is retried with backoff for about this long.
REDIS_OUTAGE_SECONDS = 60
_BACKOFF_CAP_SECONDS = 1.0


def worker_redis_settings(settings: Settings | None = None) -> RedisSettings:
    """The Redis of `settings` (by default the environment's), with retries that carry the worker through
    an outage: without them the first failed poll ends the worker."""
    return dataclasses.replace(
        redis_settings(settings),
        retry=Retry(ExponentialBackoff(cap=_BACKOFF_CAP_SECONDS, base=0.05), retries=REDIS_OUTAGE_SECONDS),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
        # The first connection, at start-up, too.
        conn_retries=REDIS_OUTAGE_SECONDS,
        conn_retry_delay=1,
    )


def worker_settings(settings: Settings | None = None) -> dict[str, Any]:
    """The arq worker's settings, with the Redis of `settings` (by default the environment's)."""
    static = {name: value for name, value in vars(WorkerSettings).items() if not name.startswith("_")}
    return {**static, "redis_settings": worker_redis_settings(settings)}
