"""Students' behaviour logs: validated like recording events, made durable the same way.

An event may name only what its sender is linked to: a participant their own session; a user the
sessions they instruct or take part in, and the recordings they own. Anything else is answered exactly
like an id that does not exist, so the mutation reveals nothing about other people's ids.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.auth import Actor, ParticipantActor, UserActor
from core.db import read_session
from core.errors import Unauthenticated
from models.base import utcnow
from models.classroom import LiveSession, Participant
from models.recordings import Recording
from resolvers.recordings.events import BatchChecker, SentEvent, check_batch_size
from resolvers.recordings.ingest import ACTIVITY_KIND, ingest


async def log_activity(actor: Actor, events: Sequence[SentEvent]) -> int:
    """A session participant's events belong to their own session, whether they name it or not."""
    if actor is None:
        raise Unauthenticated()
    check_batch_size(events)
    now = utcnow()
    check = BatchChecker(now)
    received_at = now.isoformat()
    user_id = str(actor.user_id) if isinstance(actor, UserActor) else None
    participant_id = str(actor.participant_id) if isinstance(actor, ParticipantActor) else None
    rows = []
    for index, event in enumerate(events):
        get = event.get
        session_id = check.uuid(index, "sessionId", get("sessionId"))
        if isinstance(actor, ParticipantActor) and session_id is None:
            session_id = str(actor.session_id)
        rows.append(
            {
                "event_id": check.required_uuid(index, "eventId", event["eventId"]),
                "user_id": user_id,
                "participant_id": participant_id,
                "session_id": session_id,
                "step_id": check.uuid(index, "stepId", get("stepId")),
                "recording_id": check.uuid(index, "recordingId", get("recordingId")),
                "event_type": check.event_type(index, event["eventType"]),
                "occurred_at": check.occurred_at(index, event["occurredAt"]),
                "received_at": received_at,
                "data": check.data(index, get("data")),
            }
        )
    await _check_links(actor, rows, check)
    actor_id = actor.user_id if isinstance(actor, UserActor) else actor.participant_id
    key = rows[0]["session_id"] or str(actor_id)
    await ingest(ACTIVITY_KIND, key, rows)
    return len(rows)


async def _check_links(
    actor: UserActor | ParticipantActor, rows: Sequence[dict[str, Any]], check: BatchChecker
) -> None:
    sessions = {uuid.UUID(row["session_id"]) for row in rows if row["session_id"] is not None}
    recordings = {uuid.UUID(row["recording_id"]) for row in rows if row["recording_id"] is not None}
    if isinstance(actor, ParticipantActor):
        linked_sessions, linked_recordings = {actor.session_id}, set()
    else:
        async with read_session() as db:
            linked_sessions = await _linked_sessions(db, actor.user_id, sessions)
            linked_recordings = await _owned_recordings(db, actor.user_id, recordings)
    for index, row in enumerate(rows):
        if row["session_id"] is not None and uuid.UUID(row["session_id"]) not in linked_sessions:
            raise check.fail(index, "sessionId", "unknown session")
        if row["recording_id"] is not None and uuid.UUID(row["recording_id"]) not in linked_recordings:
            raise check.fail(index, "recordingId", "unknown recording")


async def _linked_sessions(db: AsyncSession, user_id: uuid.UUID, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that the user instructs or takes part in."""
    if not ids:
        return set()
    participating = select(col(Participant.session_id)).where(col(Participant.user_id) == user_id)
    statement = select(col(LiveSession.id)).where(
        col(LiveSession.id).in_(ids),
        or_(col(LiveSession.instructor_id) == user_id, col(LiveSession.id).in_(participating)),
    )
    return set((await db.execute(statement)).scalars())


async def _owned_recordings(db: AsyncSession, user_id: uuid.UUID, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    statement = select(col(Recording.id)).where(
        col(Recording.id).in_(ids), col(Recording.owner_id) == user_id
    )
    return set((await db.execute(statement)).scalars())
