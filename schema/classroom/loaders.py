"""The classroom's DataLoader batch functions, each in a short read session of its own."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import read_session
from resolvers.classroom import live, loaders

V = TypeVar("V")


def _batch(
    query: Callable[[AsyncSession, list[uuid.UUID]], Awaitable[list[V]]],
) -> Callable[[list[uuid.UUID]], Awaitable[list[V]]]:
    """A DataLoader batch function running `query` in a short read session of its own."""

    async def load(keys: list[uuid.UUID]) -> list[V]:
        async with read_session() as db:
            return await query(db, keys)

    load.__name__ = query.__name__
    return load


load_lectures = _batch(loaders.lectures_by_ids)
load_steps = _batch(loaders.steps_by_ids)
load_participants = _batch(loaders.participants_by_ids)
load_tasks_of_lecture = _batch(loaders.tasks_by_lecture)
load_tasks_with_steps_of_lecture = _batch(loaders.tasks_with_live_steps_by_lecture)
load_live_steps_of_task = _batch(loaders.live_steps_by_task)
load_enrolled_counts = _batch(loaders.enrolled_counts)
load_sessions_of_lecture = _batch(loaders.sessions_by_lecture)
load_participants_of_session = _batch(loaders.participants_by_session)
load_progress_of_participant = _batch(loaders.progress_by_participant)


async def load_presence(session_ids: list[uuid.UUID]) -> list[live.Presence]:
    return list(await asyncio.gather(*(live.presence(session_id) for session_id in session_ids)))
