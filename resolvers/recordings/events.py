"""Validation of event batches: a batch is checked whole before anything is produced or stored, and
every refusal names the event's index and field.

Rows come out JSON-safe, keyed by their table's column names, so one format serves Kafka and Postgres.
What a row holds is exactly what Postgres accepts: text through `core.text.clean` (no NUL or other
control characters), free-form data through `core.text.check_json` (finite numbers, no NUL).
"""

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter
from typing import Any, TypeAlias

import orjson

from core import text
from core.errors import BadInput
from models.base import utcnow

MAX_BATCH_EVENTS = 500
MAX_DATA_BYTES = 4096
# Phones' clocks drift; an event may claim to be a little in the future, and a buffer may hold old ones.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_EVENT_AGE = timedelta(days=7)
# The form `str(uuid.UUID(…))` writes, which phones send: it is its own canonical form, read ~5x faster
# by this regex than by building a UUID and writing it back.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# An event as the client sent it: its GraphQL field names as keys, its values as GraphQL coerced them
# (occurredAt a datetime, data any JSON), None or absent where not sent. A batch is read straight from
# these mappings in one loop; building an object per event first cost more than validating it.
SentEvent: TypeAlias = Mapping[str, Any]


def is_secret(*, is_sensitive: bool, data: Any, class_name: str | None, view_id: str | None) -> bool:
    """Marked sensitive by the phone, or typed into a password field (Android's isPassword, or a field
    that names itself one)."""
    if is_sensitive:
        return True
    if isinstance(data, dict) and (data.get("isPassword") is True or data.get("password") is True):
        return True
    names = f"{class_name or ''} {view_id or ''}".lower()
    return "password" in names or "passwd" in names


class BatchChecker:
    """Validates the events of one batch; every error names the event's index and field."""

    def __init__(self, now: datetime) -> None:
        self.latest = now + MAX_CLOCK_SKEW
        self.earliest = now - MAX_EVENT_AGE

    @staticmethod
    def fail(index: int, field: str, message: str) -> BadInput:
        return BadInput(f"Event {index}: {message}", field=f"events[{index}].{field}", extra={"index": index})

    def uuid(self, index: int, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
            return value
        try:
            return str(uuid.UUID(str(value)))
        except ValueError as error:
            raise self.fail(index, field, f"{field} must be a UUID") from error

    def required_uuid(self, index: int, field: str, value: str) -> str:
        checked = self.uuid(index, field, value)
        assert checked is not None
        return checked

    def string(
        self, index: int, field: str, value: str | None, limit: int, *, multi_line: bool = False
    ) -> str | None:
        if value is None:
            return None
        try:
            return text.clean(value, field, max_length=limit, multi_line=multi_line)
        except BadInput as error:
            raise self.fail(index, field, error.message) from None

    def event_type(self, index: int, value: str) -> str:
        try:
            return text.required(value, "eventType", max_length=text.SHORT)
        except BadInput as error:
            raise self.fail(index, "eventType", error.message) from None

    def occurred_at(self, index: int, value: datetime) -> str:
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.fail(index, "occurredAt", "occurredAt must carry a UTC offset")
        if value > self.latest:
            raise self.fail(index, "occurredAt", "occurredAt is in the future")
        if value < self.earliest:
            raise self.fail(index, "occurredAt", "occurredAt is too far in the past")
        return (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat()

    def data(self, index: int, value: Any) -> Any:
        if value is None:
            return None
        try:
            text.check_json(value, "data")
        except BadInput as error:
            raise self.fail(index, "data", error.message) from None
        if _json_length(value) > MAX_DATA_BYTES:
            raise self.fail(index, "data", f"data must be at most {MAX_DATA_BYTES} bytes of JSON")
        return value


def _json_length(value: Any) -> int:
    """The length of `value` as compact ASCII JSON (`json.dumps`), which is what MAX_DATA_BYTES bounds.

    orjson writes UTF-8 and is many times faster; a character that json.dumps escapes (`\\uXXXX`, or two
    of them for a character beyond the BMP) takes at least a third as many bytes in UTF-8, so data whose
    orjson form is short enough is within the limit without being written the slow way."""
    try:
        if len(orjson.dumps(value)) * 3 <= MAX_DATA_BYTES:
            return 0
    except orjson.JSONEncodeError:
        # An integer beyond 64 bits, which orjson does not write (and json does).
        pass
    return len(json.dumps(value, separators=(",", ":")))


def check_batch_size(events: Sequence[object]) -> None:
    if not events:
        raise BadInput("A batch needs at least one event", field="events")
    if len(events) > MAX_BATCH_EVENTS:
        raise BadInput(
            f"A batch holds at most {MAX_BATCH_EVENTS} events, got {len(events)}",
            field="events",
            extra={"index": MAX_BATCH_EVENTS, "maxEvents": MAX_BATCH_EVENTS},
        )


# (field, limit, multi-line) of the optional text fields.
_TEXT_FIELDS = (
    ("packageName", text.NAME, False),
    ("className", text.NAME, False),
    ("text", text.TEXT, True),
    ("contentDescription", text.TEXT, True),
    ("viewId", text.NAME, False),
    ("bounds", text.SHORT, False),
)
_SECRET_NAMES = ("password", "passwd")
_SENT_FIELDS = (
    "eventId",
    "eventType",
    "occurredAt",
    *(name for name, _, _ in _TEXT_FIELDS),
    "isSensitive",
    "data",
)
_get_fields = itemgetter(*_SENT_FIELDS)


def recording_event_rows(recording_id: uuid.UUID, events: Sequence[SentEvent]) -> list[dict[str, Any]]:
    """The batch as rows for Kafka and Postgres; raises on the first invalid event, so none is kept."""
    check_batch_size(events)
    now = utcnow()
    check = BatchChecker(now)
    rows = _rows_as_sent(str(recording_id), now.isoformat(), check, events)
    if rows is None:
        rows = _checked_rows(str(recording_id), now.isoformat(), check, events)
    return rows


def _rows_as_sent(
    recording: str, received_at: str, check: BatchChecker, events: Sequence[SentEvent]
) -> list[dict[str, Any]] | None:
    """The rows of a batch whose every value is valid and already in its stored form (canonical UUIDs,
    clean text, times with a fixed UTC offset inside the window), column by column in passes over the
    whole batch: the per-event loop makes a dozen calls per event. None for any other batch, which the
    loop then converts, or refuses naming the first invalid event, as it always has."""
    columns = _columns(events)
    texts = {name: columns[name] for name, _, _ in _TEXT_FIELDS}
    try:
        if not all(map(_CANONICAL_UUID.fullmatch, columns["eventId"])):
            return None
        if None in columns["eventType"] or not text.kept_as_is(columns["eventType"], max_length=text.SHORT):
            return None
        for name, limit, multi_line in _TEXT_FIELDS:
            present = [value for value in texts[name] if value is not None]
            if not text.kept_as_is(present, max_length=limit, multi_line=multi_line):
                return None
        times = columns["occurredAt"]
        zones = set(map(_tzinfo, times))
        # A `timezone` always has an offset (a naive time, or a tzinfo without one, goes to the loop).
        if any(zone.__class__ is not timezone for zone in zones):
            return None
        if min(times) < check.earliest or max(times) > check.latest:
            return None
    except (TypeError, AttributeError):
        # A value of another type than GraphQL coerces to (a caller other than the api).
        return None
    data = columns["data"]
    if data.count(None) != len(data):
        try:
            data = [check.data(index, value) for index, value in enumerate(data)]
        except BadInput:
            return None
    secret = _secrets(columns["isSensitive"], data, texts["className"], texts["viewId"])
    typed = texts["text"]
    if any(secret):
        typed = [None if hidden else value for value, hidden in zip(typed, secret, strict=True)]
    if all(zone is UTC for zone in zones):
        occurred = list(map(datetime.isoformat, times))
    else:
        occurred = [time.astimezone(UTC).isoformat() for time in times]
    return [
        {
            "event_id": event_id,
            "recording_id": recording,
            "event_type": event_type,
            "occurred_at": occurred_at,
            "received_at": received_at,
            "package_name": package_name,
            "class_name": class_name,
            "text": typed_text,
            "content_description": content_description,
            "view_id": view_id,
            "bounds": bounds,
            "is_sensitive": is_sensitive,
            "data": value,
        }
        for (
            event_id,
            event_type,
            occurred_at,
            package_name,
            class_name,
            typed_text,
            content_description,
            view_id,
            bounds,
            is_sensitive,
            value,
        ) in zip(
            columns["eventId"],
            columns["eventType"],
            occurred,
            texts["packageName"],
            texts["className"],
            typed,
            texts["contentDescription"],
            texts["viewId"],
            texts["bounds"],
            secret,
            data,
            strict=True,
        )
    ]


def _columns(events: Sequence[SentEvent]) -> dict[str, list[Any]]:
    """Each field's values in the events' order: one C-level transposition when every event holds every
    field (as GraphQL coerces them, with defaults), else None for a field an event lacks."""
    try:
        return dict(zip(_SENT_FIELDS, map(list, zip(*map(_get_fields, events), strict=True)), strict=True))
    except KeyError:
        return {name: [event.get(name) for event in events] for name in _SENT_FIELDS}


def _tzinfo(time: datetime) -> object:
    return time.tzinfo


def _secrets(
    sensitive: list[Any], data: list[Any], class_names: list[str | None], view_ids: list[str | None]
) -> list[bool]:
    """`is_secret` of each event; one search of all the names when no event is marked or has data."""
    if not any(sensitive) and data.count(None) == len(data):
        # Lowercasing maps letters one by one, and no name (nor the newline between them) can make
        # "password" across two of them.
        names = "\n".join(filter(None, (*class_names, *view_ids))).lower()
        if not any(secret in names for secret in _SECRET_NAMES):
            return [False] * len(sensitive)
    return [
        is_secret(is_sensitive=bool(marked), data=value, class_name=class_name, view_id=view_id)
        for marked, value, class_name, view_id in zip(sensitive, data, class_names, view_ids, strict=True)
    ]


def _checked_rows(
    recording: str, received_at: str, check: BatchChecker, events: Sequence[SentEvent]
) -> list[dict[str, Any]]:
    """The rows event by event, each value through its rule."""
    rows = []
    for index, event in enumerate(events):
        get = event.get
        class_name = check.string(index, "className", get("className"), text.NAME)
        view_id = check.string(index, "viewId", get("viewId"), text.NAME)
        data = check.data(index, get("data"))
        secret = is_secret(
            is_sensitive=bool(get("isSensitive")), data=data, class_name=class_name, view_id=view_id
        )
        typed = check.string(index, "text", get("text"), text.TEXT, multi_line=True)
        rows.append(
            {
                "event_id": check.required_uuid(index, "eventId", event["eventId"]),
                "recording_id": recording,
                "event_type": check.event_type(index, event["eventType"]),
                "occurred_at": check.occurred_at(index, event["occurredAt"]),
                "received_at": received_at,
                "package_name": check.string(index, "packageName", get("packageName"), text.NAME),
                "class_name": class_name,
                # Secrets are never stored, so no later reader (an LLM, a step, an export) can leak them.
                "text": None if secret else typed,
                "content_description": check.string(
                    index, "contentDescription", get("contentDescription"), text.TEXT, multi_line=True
                ),
                "view_id": view_id,
                "bounds": check.string(index, "bounds", get("bounds"), text.SHORT),
                "is_sensitive": secret,
                "data": data,
            }
        )
    return rows
