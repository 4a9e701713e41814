"""The recordings domain's channel and its event: a recording's status changed.

The event carries the whole recording row, so a subscriber renders it without a database read.
"""

import uuid
from typing import Any

from pydantic import field_validator

from broadcast.events import BroadcastEvent
from models.recordings import Recording


def status_channel(recording_id: uuid.UUID) -> str:
    return f"recording:{recording_id}"


class RecordingStatusChanged(BroadcastEvent):
    recording: Recording

    @field_validator("recording", mode="before")
    @classmethod
    def _validated_row(cls, value: Any) -> Any:
        # A table model is not validated when built from keywords; from JSON it must be (times, enums).
        return Recording.model_validate(value) if isinstance(value, dict) else value
