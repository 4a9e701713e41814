"""The recordings domain's channel and its event: a recording's status changed.

The payload is the whole recording row, so a subscriber renders it without a database read.
"""

import uuid
from typing import Any

from models.recordings import Recording


def status_channel(recording_id: uuid.UUID) -> str:
    return f"recording:{recording_id}"


def status_changed(recording: Recording) -> dict[str, Any]:
    return {"type": "RecordingStatusChanged", "recording": recording.model_dump(mode="json")}


def recording_from_event(event: dict[str, Any]) -> Recording:
    return Recording.model_validate(event["recording"])
