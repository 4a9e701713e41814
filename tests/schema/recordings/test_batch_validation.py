"""A full batch of 500 events is validated in one pass over the events as GraphQL coerced them; one bad
event anywhere refuses the whole batch with the same message, field and index as before, and nothing of
it is produced or stored. When several events are bad, the first one is named, and within an event the
first field in the order the rules run."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.db import read_session
from core.text import NAME, TEXT
from models.recordings import RecordingEvent
from resolvers.recordings.events import MAX_BATCH_EVENTS, MAX_DATA_BYTES
from tests.helpers.client import error_code
from tests.helpers.recordings import (
    APPEND,
    clicks,
    drain,
    eventually,
    instructor,
    start_recording,
    stored,
    stored_events,
    topic_end,
)

__all__ = ["drain"]

BAD = 250


async def refused(gql: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The error of a refused batch, having checked that nothing of it reached Kafka or Postgres."""
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    before = (await topic_end(), await stored())
    error = await gql.error(APPEND, {"id": recording_id, "events": events}, token=owner.token)
    assert (await topic_end(), await stored()) == before
    return error


def naive(event: dict[str, Any]) -> None:
    event["occurredAt"] = datetime.now().replace(tzinfo=None).isoformat()


def future(event: dict[str, Any]) -> None:
    event["occurredAt"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def ancient(event: dict[str, Any]) -> None:
    event["occurredAt"] = (datetime.now(UTC) - timedelta(days=8)).isoformat()


@pytest.mark.parametrize(
    ("spoil", "field", "message"),
    [
        (lambda e: e.update(eventId="not-a-uuid"), "eventId", "eventId must be a UUID"),
        (lambda e: e.update(eventType="  "), "eventType", "eventType must not be empty"),
        (lambda e: e.update(eventType="x" * 65), "eventType", "eventType must be at most 64 characters"),
        (naive, "occurredAt", "occurredAt must carry a UTC offset"),
        (future, "occurredAt", "occurredAt is in the future"),
        (ancient, "occurredAt", "occurredAt is too far in the past"),
        (lambda e: e.update(viewId="app:id/\x1b"), "viewId", "viewId must not contain control characters"),
        (
            lambda e: e.update(className="A\u0085B"),
            "className",
            "className must not contain control characters",
        ),
        (lambda e: e.update(text="line\r\n"), "text", "text must not contain control characters"),
        (lambda e: e.update(text="x" * (TEXT + 1)), "text", f"text must be at most {TEXT} characters"),
        (
            lambda e: e.update(packageName="p" * (NAME + 1)),
            "packageName",
            f"packageName must be at most {NAME} characters",
        ),
        (
            lambda e: e.update(contentDescription="tab\tand unit separator\x1f"),
            "contentDescription",
            "contentDescription must not contain control characters",
        ),
        (lambda e: e.update(bounds="[0,0]\x00"), "bounds", "bounds must not contain control characters"),
        (
            lambda e: e.update(data={"big": "x" * MAX_DATA_BYTES}),
            "data",
            f"data must be at most {MAX_DATA_BYTES} bytes of JSON",
        ),
        (
            # 700 characters of UTF-8 Korean are 2,100 bytes, but 4,200 as the ASCII JSON the limit counts.
            lambda e: e.update(data={"note": "가" * 700}),
            "data",
            f"data must be at most {MAX_DATA_BYTES} bytes of JSON",
        ),
        (lambda e: e.update(data={"key\x00": 1}), "data", "data must have text keys without NUL characters"),
    ],
)
async def test_one_bad_event_among_500_refuses_the_batch_naming_it(gql, spoil, field, message) -> None:
    # Given a full batch whose event 250 breaks one rule
    events = clicks(MAX_BATCH_EVENTS)
    spoil(events[BAD])
    # When it is appended, then the whole batch is refused, naming that event and field
    error = await refused(gql, events)
    assert (error_code(error), error["extensions"]["field"], error["extensions"]["index"]) == (
        "BAD_USER_INPUT",
        f"events[{BAD}].{field}",
        BAD,
    )
    assert error["message"] == f"Event {BAD}: {message}"


async def test_of_several_bad_events_the_first_is_named_with_its_first_bad_field(gql) -> None:
    # Given a batch with two bad events, the first of them bad in two fields
    events = clicks(MAX_BATCH_EVENTS)
    events[400]["className"] = "\x07"
    events[120].update(eventId="nope", viewId="\x00")
    # When it is appended, then the earlier event is named, with the field its rules check first
    error = await refused(gql, events)
    assert (error["extensions"]["field"], error["message"]) == (
        "events[120].viewId",
        "Event 120: viewId must not contain control characters",
    )


async def test_a_full_batch_is_stored_as_cleaned_text(gql, drain) -> None:
    # Given a full batch whose events carry data just under the limit, and text to be cleaned
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = clicks(MAX_BATCH_EVENTS)
    events[0]["data"] = {"k": "x" * (MAX_DATA_BYTES - len('{"k":""}'))}
    shouting = str(uuid.uuid4()).upper()
    events[1].update(text="  Cafe\u0301\tmenu\n ", viewId=" com.app:id/send ", eventId=shouting)
    # When it is appended and drained
    result = await gql.data(APPEND, {"id": recording_id, "events": events}, token=owner.token)
    assert result["appendRecordingEvents"]["accepted"] == MAX_BATCH_EVENTS

    async def all_stored() -> bool:
        return await stored_events(recording_id) == MAX_BATCH_EVENTS

    await eventually(all_stored)
    # Then the text is stored trimmed and in NFC, the event id in its canonical form, the data whole
    async with read_session() as db:
        row = await db.get(RecordingEvent, uuid.UUID(shouting))
        first = await db.get(RecordingEvent, uuid.UUID(events[0]["eventId"]))
    assert row is not None and first is not None
    cleaned = ("Caf\u00e9\tmenu", "com.app:id/send", shouting.lower())
    assert (row.text, row.view_id, str(row.event_id)) == cleaned
    assert first.data == events[0]["data"]
