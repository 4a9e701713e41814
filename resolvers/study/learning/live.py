"""The `learningAnalytics` subscription: the session's analysis, recomputed from its Redis state.

It runs on the classroom dashboard's machinery (`broadcast.streams.throttled_feed`): one computation per
session and api process however many sockets follow it, at most twice a second, the newest state winning
and a trailing computation after a burst so the last event always shows.
"""

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlmodel import col

from broadcast.learning import learning_channel
from broadcast.streams import throttled_feed
from core.auth import Actor, require_user
from core.db import read_session
from core.errors import NotFound
from models.base import utcnow
from models.study import LearningSession
from resolvers.study.learning.analysis import LearningAnalysis, analyse
from resolvers.study.learning.store import load_state

PUSH_INTERVAL_SECONDS = 0.5
# Without events, time alone moves the figures (velocity, the 45- and 90-minute alerts).
REFRESH_SECONDS = 30.0


async def learning_analysis(session_id: uuid.UUID, *, now: datetime | None = None) -> LearningAnalysis:
    """The analysis now, or as the session ended."""
    async with read_session() as db:
        session = await db.get(LearningSession, session_id)
    if session is None:
        raise NotFound("Learning session")
    at = now or utcnow()
    if session.ended_at is not None and session.focus is not None:
        # The figures written at the end: the same computation, and still there once the state expires.
        return LearningAnalysis(
            learning_session_id=session.id,
            focus=session.focus,
            velocity=session.velocity or 0.0,
            efficiency=session.efficiency or 0.0,
            alerts=(),
            recommendations=(),
            ended=True,
            as_of=session.ended_at,
            computed_at=at,
        )
    state = await load_state(session.id, session.started_at)
    return analyse(session.id, state, at, session.ended_at)


async def follow_learning_analysis(
    actor: Actor, session_id: uuid.UUID
) -> AsyncGenerator[LearningAnalysis, None]:
    """The owner's only (NOT_FOUND for anyone else), checked before any channel is subscribed."""
    user = require_user(actor)
    async with read_session() as db:
        owned = await db.scalar(
            select(col(LearningSession.id)).where(
                col(LearningSession.id) == session_id, col(LearningSession.user_id) == user.user_id
            )
        )
    if owned is None:
        raise NotFound("Learning session")
    return _analyses(session_id)


async def _analyses(session_id: uuid.UUID) -> AsyncGenerator[LearningAnalysis, None]:
    async with throttled_feed(
        ("learning", session_id),
        [learning_channel(session_id)],
        partial(learning_analysis, session_id),
        min_interval=PUSH_INTERVAL_SECONDS,
        refresh_interval=REFRESH_SECONDS,
    ) as next_value:
        while True:
            analysis = await next_value()
            yield analysis
            if analysis.ended:
                # The final figures; nothing will change any more.
                return
