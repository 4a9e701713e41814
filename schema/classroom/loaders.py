"""The classroom's DataLoader batch functions, each in a short read session or connection of its own."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from core.db import read_connection, read_session
from resolvers.classroom import live, loaders

V = TypeVar("V")
D = TypeVar("D")


def _batch(
    query: Callable[[D, list[uuid.UUID]], Awaitable[list[V]]],
    open_db: Callable[[], AbstractAsyncContextManager[D]],
) -> Callable[[list[uuid.UUID]], Awaitable[list[V]]]:
    """A DataLoader batch function running `query` in a short read session or connection of its own."""

    async def load(keys: list[uuid.UUID]) -> list[V]:
        async with open_db() as db:
            return await query(db, keys)

    load.__name__ = query.__name__
    return load


load_lectures = _batch(loaders.lectures_by_ids, read_connection)
load_steps = _batch(loaders.steps_by_ids, read_connection)
load_participants = _batch(loaders.participants_by_ids, read_session)
load_tasks_of_lecture = _batch(loaders.tasks_by_lecture, read_connection)
load_tasks_with_steps_of_lecture = _batch(loaders.tasks_with_live_steps_by_lecture, read_connection)
load_live_steps_of_task = _batch(loaders.live_steps_by_task, read_connection)
load_enrolled_counts = _batch(loaders.enrolled_counts, read_session)
load_sessions_of_lecture = _batch(loaders.sessions_by_lecture, read_session)
load_participants_of_session = _batch(loaders.participants_by_session, read_session)
load_progress_of_participant = _batch(loaders.progress_by_participant, read_session)


async def load_presence(session_ids: list[uuid.UUID]) -> list[live.Presence]:
    return list(await asyncio.gather(*(live.presence(session_id) for session_id in session_ids)))
