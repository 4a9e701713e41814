"""Students' behaviour logs: validated like recording events, made durable the same way."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from core.auth import Actor, ParticipantActor, UserActor
from core.db import read_session
from core.errors import Unauthenticated
from models.base import utcnow
from models.recordings import Recording
from resolvers.recordings.events import ActivityEventDraft, EventChecker, check_batch_size
from resolvers.recordings.ingest import ACTIVITY_KIND, ingest


async def log_activity(actor: Actor, drafts: Sequence[ActivityEventDraft]) -> int:
    """A session participant logs only for their own session."""
    if actor is None:
        raise Unauthenticated()
    check_batch_size(drafts)
    now = utcnow()
    rows = []
    for index, draft in enumerate(drafts):
        check = EventChecker(index, now)
        session_id = check.uuid("sessionId", draft.session_id)
        if isinstance(actor, ParticipantActor):
            if session_id is not None and session_id != str(actor.session_id):
                raise check.fail("sessionId", "sessionId must be your own session")
            session_id = str(actor.session_id)
        rows.append(
            {
                "event_id": check.required_uuid("eventId", draft.event_id),
                "user_id": str(actor.user_id) if isinstance(actor, UserActor) else None,
                "participant_id": str(actor.participant_id) if isinstance(actor, ParticipantActor) else None,
                "session_id": session_id,
                "step_id": check.uuid("stepId", draft.step_id),
                "recording_id": check.uuid("recordingId", draft.recording_id),
                "event_type": check.event_type(draft.event_type),
                "occurred_at": check.occurred_at(draft.occurred_at),
                "received_at": now.isoformat(),
                "data": check.data(draft.data),
            }
        )
    await _check_recordings_exist(rows, now)
    actor_id = actor.user_id if isinstance(actor, UserActor) else actor.participant_id
    key = rows[0]["session_id"] or str(actor_id)
    await ingest(ACTIVITY_KIND, key, rows)
    return len(rows)


async def _check_recordings_exist(rows: Sequence[dict[str, Any]], now: datetime) -> None:
    wanted = {row["recording_id"] for row in rows if row["recording_id"] is not None}
    if not wanted:
        return
    statement = select(col(Recording.id)).where(col(Recording.id).in_([uuid.UUID(w) for w in wanted]))
    async with read_session() as db:
        found = {str(found_id) for found_id in (await db.execute(statement)).scalars()}
    for index, row in enumerate(rows):
        if row["recording_id"] is not None and row["recording_id"] not in found:
            raise EventChecker(index, now).fail("recordingId", "unknown recording")
