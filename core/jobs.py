"""Enqueueing arq jobs, always after the commit that made them necessary."""

from datetime import datetime

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import after_commit
from core.settings import Settings, get_settings

_pool: ArqRedis | None = None


def redis_settings(settings: Settings | None = None) -> RedisSettings:
    return RedisSettings.from_dsn((settings or get_settings()).redis_url)


async def job_queue() -> ArqRedis:
    global _pool
    if _pool is None:
        _pool = await create_pool(redis_settings())
    return _pool


async def close_job_queue() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
    _pool = None


async def enqueue(
    name: str, *args: object, job_id: str | None = None, defer_until: datetime | None = None
) -> None:
    """A job id makes the enqueue idempotent: arq keeps one job per id while it is queued or kept.
    `defer_until` holds the job back until that moment."""
    await (await job_queue()).enqueue_job(name, *args, _job_id=job_id, _defer_until=defer_until)


def enqueue_after_commit(
    db: AsyncSession,
    name: str,
    *args: object,
    job_id: str | None = None,
    defer_until: datetime | None = None,
) -> None:
    after_commit(db, lambda: enqueue(name, *args, job_id=job_id, defer_until=defer_until))
