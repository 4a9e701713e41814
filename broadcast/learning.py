"""The channel of one learning session and its events.

Subscribers recompute the analysis from the state in Redis whenever something arrives here, so the
events only say what happened; they carry no figures.
"""

import uuid

from broadcast.events import BroadcastEvent


def learning_channel(session_id: uuid.UUID) -> str:
    return f"learning:{session_id}"


class LearningEventTracked(BroadcastEvent):
    learning_session_id: uuid.UUID
    event_type: str


class LearningSessionEnded(BroadcastEvent):
    learning_session_id: uuid.UUID
