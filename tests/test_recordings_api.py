"""Recordings through GraphQL: ownership, the state machine and whole-batch validation.

A refused batch must leave nothing behind: no row in Postgres and no message on the Kafka topic.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.auth import Role
from core.db import read_session
from core.kafka import end_offsets
from core.settings import get_settings
from models.recordings import ActivityEvent, Recording, RecordingEvent
from resolvers.recordings import MAX_BATCH_EVENTS, MAX_TEXT_LENGTH
from tests.client import error_code
from tests.factories import make_account
from tests.test_ingest import APPEND, LOG_ACTIVITY, START, STOP, click, clicks, instructor, start_recording

RECORDING = "query($id: ID!) { recording(id: $id) { id title status } }"
RECORDINGS = "{ recordings { edges { node { id title } } } }"


async def topic_end() -> int:
    settings = get_settings()
    offsets = await end_offsets(
        settings.kafka_bootstrap_servers, settings.kafka_activity_topic, settings.kafka_consumer_group
    )
    return sum(end for end, _ in offsets.values())


async def stored() -> tuple[int, int]:
    async with read_session() as db:
        events = (await db.execute(select(func.count()).select_from(RecordingEvent))).scalar_one()
        activity = (await db.execute(select(func.count()).select_from(ActivityEvent))).scalar_one()
    return int(events), int(activity)


async def refused(gql: Any, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """The error of a refused batch, having checked that nothing of it reached Kafka or Postgres."""
    before = (await topic_end(), await stored())
    error = await gql.error(query, variables, token=token)
    assert (await topic_end(), await stored()) == before
    return error


async def test_only_instructors_start_recordings(gql) -> None:
    student = await make_account(Role.STUDENT)
    error = await gql.error(START, {"title": "Mine"}, token=student.token)
    assert error_code(error) == "FORBIDDEN"
    async with read_session() as db:
        assert (await db.execute(select(func.count()).select_from(Recording))).scalar_one() == 0


async def test_a_recording_is_seen_and_changed_only_by_its_owner(gql) -> None:
    # Given a recording of one instructor
    owner, other = await instructor(), await instructor()
    recording_id = await start_recording(gql, owner, "Video call")
    # When another instructor looks for it, lists theirs, and tries to stop it or append to it
    seen = (await gql.data(RECORDING, {"id": recording_id}, token=other.token))["recording"]
    listed = (await gql.data(RECORDINGS, token=other.token))["recordings"]["edges"]
    stop = await gql.error(STOP, {"id": recording_id}, token=other.token)
    append = await refused(gql, APPEND, {"id": recording_id, "events": clicks(1)}, other.token)
    # Then it does not exist for them and is unchanged
    assert (seen, listed, error_code(stop)) == (None, [], "NOT_FOUND")
    assert (error_code(append), append["extensions"]["field"]) == ("BAD_USER_INPUT", "recordingId")
    mine = (await gql.data(RECORDING, {"id": recording_id}, token=owner.token))["recording"]
    assert mine == {"id": recording_id, "title": "Video call", "status": "RECORDING"}


async def test_stopping_twice_is_a_conflict(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    first = (await gql.data(STOP, {"id": recording_id}, token=owner.token))["stopRecording"]
    error = await gql.error(STOP, {"id": recording_id}, token=owner.token)
    assert first["status"] == "COMPLETED" and first["durationSeconds"] >= 0
    assert error_code(error) == "CONFLICT"
    again = (await gql.data(RECORDING, {"id": recording_id}, token=owner.token))["recording"]
    assert again["status"] == "COMPLETED"


async def test_a_batch_with_a_naive_timestamp_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = clicks(3)
    events[1]["occurredAt"] = datetime.now().replace(tzinfo=None).isoformat()
    error = await refused(gql, APPEND, {"id": recording_id, "events": events}, owner.token)
    assert error_code(error) == "BAD_USER_INPUT"
    assert (error["extensions"]["index"], error["extensions"]["field"]) == (1, "events[1].occurredAt")


async def test_a_batch_with_a_timestamp_from_the_future_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = [*clicks(2), click(datetime.now(UTC) + timedelta(hours=1))]
    error = await refused(gql, APPEND, {"id": recording_id, "events": events}, owner.token)
    assert (error_code(error), error["extensions"]["index"]) == ("BAD_USER_INPUT", 2)
    assert error["message"] == "Event 2: occurredAt is in the future"


async def test_a_batch_with_oversize_text_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = clicks(2)
    events[0]["text"] = "x" * (MAX_TEXT_LENGTH + 1)
    error = await refused(gql, APPEND, {"id": recording_id, "events": events}, owner.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "events[0].text")


async def test_a_batch_over_the_maximum_size_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    error = await refused(
        gql, APPEND, {"id": recording_id, "events": clicks(MAX_BATCH_EVENTS + 1)}, owner.token
    )
    assert (error_code(error), error["extensions"]["index"]) == ("BAD_USER_INPUT", MAX_BATCH_EVENTS)
    assert error["message"] == f"A batch holds at most {MAX_BATCH_EVENTS} events, got {MAX_BATCH_EVENTS + 1}"


async def test_a_batch_for_an_unknown_recording_is_refused(gql) -> None:
    owner = await instructor()
    error = await refused(gql, APPEND, {"id": str(uuid.uuid4()), "events": clicks(1)}, owner.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "recordingId")


async def test_an_activity_event_naming_an_unknown_recording_refuses_the_batch(gql) -> None:
    student = await make_account()
    now = datetime.now(UTC).isoformat()
    events = [
        {"eventId": str(uuid.uuid4()), "eventType": "tap", "occurredAt": now},
        {
            "eventId": str(uuid.uuid4()),
            "eventType": "tap",
            "occurredAt": now,
            "recordingId": str(uuid.uuid4()),
        },
    ]
    error = await refused(gql, LOG_ACTIVITY, {"events": events}, student.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "events[1].recordingId")


async def test_anonymous_activity_logs_are_refused(gql) -> None:
    event = {"eventId": str(uuid.uuid4()), "eventType": "tap", "occurredAt": datetime.now(UTC).isoformat()}
    before = await stored()
    error = await gql.error(LOG_ACTIVITY, {"events": [event]})
    assert error_code(error) == "UNAUTHENTICATED"
    assert await stored() == before


async def test_no_events_are_taken_once_the_analysis_started(gql) -> None:
    # Given a recording being analysed
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    await gql.data(STOP, {"id": recording_id}, token=owner.token)
    await gql.data(
        "mutation($id: ID!) { analyzeRecording(id: $id) { id } }", {"id": recording_id}, token=owner.token
    )
    # When the phone sends a late batch
    error = await refused(gql, APPEND, {"id": recording_id, "events": clicks(1)}, owner.token)
    # Then it is a conflict
    assert error_code(error) == "CONFLICT"
