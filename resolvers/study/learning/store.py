"""The analysis state of each learning session: one Redis hash per session, so every api process reads
and updates the same state (the originals kept it in one process's memory)."""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from redis.exceptions import WatchError

from core.redis import redis
from resolvers.study.learning.analysis import AnalysisState

MAX_SESSION = timedelta(hours=4)
# A little longer than a session may stay open, so the state outlives the session it serves.
STATE_TTL = MAX_SESSION + timedelta(hours=1)


def state_key(session_id: uuid.UUID) -> str:
    return f"learning:{session_id}:analysis"


def _state(fields: dict[str, str], started_at: datetime) -> AnalysisState:
    # No hash yet (no event so far), or Redis lost it: the session as it began.
    return AnalysisState.from_fields(fields) if fields else AnalysisState.initial(started_at)


async def load_state(session_id: uuid.UUID, started_at: datetime) -> AnalysisState:
    fields: dict[str, str] = await redis().hgetall(state_key(session_id))  # type: ignore[misc]
    return _state(fields, started_at)


async def load_states(sessions: Sequence[tuple[uuid.UUID, datetime]]) -> list[AnalysisState]:
    """The states of many sessions in one round trip."""
    async with redis().pipeline(transaction=False) as pipe:
        for session_id, _ in sessions:
            pipe.hgetall(state_key(session_id))
        stored: list[dict[str, str]] = await pipe.execute()
    return [_state(fields, started_at) for fields, (_, started_at) in zip(stored, sessions, strict=True)]


async def update_state(
    session_id: uuid.UUID, started_at: datetime, change: Callable[[AnalysisState], AnalysisState]
) -> AnalysisState:
    """Applies `change` atomically: WATCH, read, compute, MULTI/EXEC, again if another process wrote the
    hash meanwhile. The computation stays in Python (analysis.py), so it is written and tested once."""
    key = state_key(session_id)
    async with redis().pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                fields: dict[str, str] = await pipe.hgetall(key)  # type: ignore[misc]
                state = change(_state(fields, started_at))
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, mapping=state.to_fields())
                pipe.expire(key, STATE_TTL)
                await pipe.execute()
                return state
            except WatchError:
                continue
