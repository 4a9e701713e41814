"""Validation of event batches: a batch is checked whole before anything is produced or stored, and
every refusal names the event's index and field.

Rows come out JSON-safe, keyed by their table's column names, so one format serves Kafka and Postgres.
What a row holds is exactly what Postgres accepts: text through `core.text.clean` (no NUL or other
control characters), free-form data through `core.text.check_json` (finite numbers, no NUL).
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core import text
from core.errors import BadInput
from models.base import utcnow

MAX_BATCH_EVENTS = 500
MAX_DATA_BYTES = 4096
# Phones' clocks drift; an event may claim to be a little in the future, and a buffer may hold old ones.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_EVENT_AGE = timedelta(days=7)


@dataclass(frozen=True)
class RecordingEventDraft:
    event_id: str
    event_type: str
    occurred_at: datetime
    package_name: str | None = None
    class_name: str | None = None
    text: str | None = None
    content_description: str | None = None
    view_id: str | None = None
    bounds: str | None = None
    is_sensitive: bool | None = None
    data: Any = None


@dataclass(frozen=True)
class ActivityEventDraft:
    event_id: str
    event_type: str
    occurred_at: datetime
    session_id: str | None = None
    step_id: str | None = None
    recording_id: str | None = None
    data: Any = None


def is_secret(*, is_sensitive: bool, data: Any, class_name: str | None, view_id: str | None) -> bool:
    """Marked sensitive by the phone, or typed into a password field (Android's isPassword, or a field
    that names itself one)."""
    if is_sensitive:
        return True
    if isinstance(data, dict) and (data.get("isPassword") is True or data.get("password") is True):
        return True
    names = f"{class_name or ''} {view_id or ''}".lower()
    return "password" in names or "passwd" in names


class EventChecker:
    """Validates one event of a batch; every error names the event's index and field."""

    def __init__(self, index: int, now: datetime) -> None:
        self.index = index
        self.now = now

    def fail(self, field: str, message: str) -> BadInput:
        return BadInput(
            f"Event {self.index}: {message}",
            field=f"events[{self.index}].{field}",
            extra={"index": self.index},
        )

    def uuid(self, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(str(value)))
        except ValueError as error:
            raise self.fail(field, f"{field} must be a UUID") from error

    def required_uuid(self, field: str, value: str) -> str:
        checked = self.uuid(field, value)
        assert checked is not None
        return checked

    def string(self, field: str, value: str | None, limit: int, *, multi_line: bool = False) -> str | None:
        try:
            return text.clean(value, field, max_length=limit, multi_line=multi_line)
        except BadInput as error:
            raise self.fail(field, error.message) from None

    def event_type(self, value: str) -> str:
        try:
            return text.required(value, "eventType", max_length=text.SHORT)
        except BadInput as error:
            raise self.fail("eventType", error.message) from None

    def occurred_at(self, value: datetime) -> str:
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.fail("occurredAt", "occurredAt must carry a UTC offset")
        if value > self.now + MAX_CLOCK_SKEW:
            raise self.fail("occurredAt", "occurredAt is in the future")
        if value < self.now - MAX_EVENT_AGE:
            raise self.fail("occurredAt", "occurredAt is too far in the past")
        return value.astimezone(UTC).isoformat()

    def data(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            text.check_json(value, "data")
        except BadInput as error:
            raise self.fail("data", error.message) from None
        if len(json.dumps(value, separators=(",", ":"))) > MAX_DATA_BYTES:
            raise self.fail("data", f"data must be at most {MAX_DATA_BYTES} bytes of JSON")
        return value


def check_batch_size(events: Sequence[object]) -> None:
    if not events:
        raise BadInput("A batch needs at least one event", field="events")
    if len(events) > MAX_BATCH_EVENTS:
        raise BadInput(
            f"A batch holds at most {MAX_BATCH_EVENTS} events, got {len(events)}",
            field="events",
            extra={"index": MAX_BATCH_EVENTS, "maxEvents": MAX_BATCH_EVENTS},
        )


def recording_event_rows(
    recording_id: uuid.UUID, drafts: Sequence[RecordingEventDraft]
) -> list[dict[str, Any]]:
    """The batch as rows for Kafka and Postgres; raises on the first invalid event, so none is kept."""
    check_batch_size(drafts)
    now = utcnow()
    received_at = now.isoformat()
    rows = []
    for index, draft in enumerate(drafts):
        check = EventChecker(index, now)
        class_name = check.string("className", draft.class_name, text.NAME)
        view_id = check.string("viewId", draft.view_id, text.NAME)
        data = check.data(draft.data)
        secret = is_secret(
            is_sensitive=bool(draft.is_sensitive), data=data, class_name=class_name, view_id=view_id
        )
        typed = check.string("text", draft.text, text.TEXT, multi_line=True)
        rows.append(
            {
                "event_id": check.required_uuid("eventId", draft.event_id),
                "recording_id": str(recording_id),
                "event_type": check.event_type(draft.event_type),
                "occurred_at": check.occurred_at(draft.occurred_at),
                "received_at": received_at,
                "package_name": check.string("packageName", draft.package_name, text.NAME),
                "class_name": class_name,
                # Secrets are never stored, so no later reader (an LLM, a step, an export) can leak them.
                "text": None if secret else typed,
                "content_description": check.string(
                    "contentDescription", draft.content_description, text.TEXT, multi_line=True
                ),
                "view_id": view_id,
                "bounds": check.string("bounds", draft.bounds, text.SHORT),
                "is_sensitive": secret,
                "data": data,
            }
        )
    return rows
