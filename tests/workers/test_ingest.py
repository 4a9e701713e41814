"""The activity-log pipeline through the real Kafka-compatible broker: api → topic → drain → Postgres."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.db import read_session
from core.kafka import ActivityProducer, encode_messages, end_offsets
from core.settings import get_settings
from models.recordings import ActivityEvent, RecordingEvent
from tests.helpers.classroom import make_classroom
from tests.helpers.factories import make_account
from tests.helpers.recordings import (
    APPEND,
    LOG_ACTIVITY,
    STOP,
    click,
    clicks,
    drain,
    event_count,
    event_rows,
    eventually,
    instructor,
    iso,
    join_as,
    recording_row,
    start_recording,
    stored_events,
    wait_until_drained,
)
from workers.ingest import Drain

__all__ = ["drain"]

EVENTS = """
query($id: ID!, $first: Int, $after: String) {
  recording(id: $id) {
    eventCount
    events(first: $first, after: $after) {
      edges { node { eventId eventType occurredAt receivedAt text isSensitive } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""


async def test_appended_events_go_through_kafka_and_keep_the_phones_order(gql, drain) -> None:
    # Given a recording and three events sent out of order
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    start = datetime.now(UTC).replace(microsecond=123456) - timedelta(seconds=30)
    events = [click(start + timedelta(seconds=s)) for s in (2, 0, 1)]
    # When the phone appends them
    result = await gql.data(APPEND, {"id": recording_id, "events": events}, token=owner.token)
    # Then Kafka acknowledged them, the drain stored them, and they read back by occurredAt, exactly
    assert result["appendRecordingEvents"] == {
        "recordingId": recording_id,
        "accepted": 3,
        "deliveredVia": "KAFKA",
    }
    await wait_until_drained()
    page = (await gql.data(EVENTS, {"id": recording_id}, token=owner.token))["recording"]
    assert page["eventCount"] == 3
    nodes = [edge["node"] for edge in page["events"]["edges"]]
    assert [node["eventId"] for node in nodes] == [
        events[1]["eventId"],
        events[2]["eventId"],
        events[0]["eventId"],
    ]
    assert [datetime.fromisoformat(node["occurredAt"]) for node in nodes] == [
        start,
        start + timedelta(seconds=1),
        start + timedelta(seconds=2),
    ]
    assert all(datetime.fromisoformat(node["receivedAt"]) > start + timedelta(seconds=2) for node in nodes)


async def test_a_resent_batch_stores_nothing_twice(gql, drain) -> None:
    # Given a batch that was appended and stored
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    batch = clicks(5)
    await gql.data(APPEND, {"id": recording_id, "events": batch}, token=owner.token)
    # When the phone resends it (it never saw the answer) with one new event, and again as it was
    resent = [*batch, *clicks(1)]
    await gql.data(APPEND, {"id": recording_id, "events": resent}, token=owner.token)
    await gql.data(APPEND, {"id": recording_id, "events": batch}, token=owner.token)
    await wait_until_drained()
    # Then every event is stored once and eventCount counts them once
    assert await stored_events(recording_id) == 6
    assert await event_count(recording_id) == 6


async def test_every_column_is_stored_as_it_was_sent(gql, drain) -> None:
    # Given events with every field, non-ASCII text, an integer beyond 64 bits in their data, and one
    # typed into a password field
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    start = datetime.now(UTC).replace(microsecond=250000) - timedelta(minutes=1)
    data = {"big": 2**70, "ratio": 0.1, "label": "사진 보내기 ✓", "nested": [{"a": None}, True]}
    full = click(
        start,
        className="android.widget.Button",
        text="보내기",
        contentDescription="Send\nnow",
        viewId="com.kakao.talk:id/send",
        bounds="[0,0][100,50]",
        data=data,
    )
    secret = click(start + timedelta(seconds=1), text="hunter2", viewId="app:id/password_field")
    # When they are appended and drained
    await gql.data(APPEND, {"id": recording_id, "events": [full, secret]}, token=owner.token)
    await wait_until_drained()
    # Then each row holds exactly what was sent, the secret's text not at all
    async with read_session() as db:
        statement = select(RecordingEvent).where(RecordingEvent.recording_id == uuid.UUID(recording_id))
        rows = (await db.execute(statement.order_by(RecordingEvent.occurred_at))).scalars().all()
    assert [
        (
            str(row.event_id),
            row.event_type,
            row.occurred_at,
            row.package_name,
            row.class_name,
            row.text,
            row.content_description,
            row.view_id,
            row.bounds,
            row.is_sensitive,
            row.data,
        )
        for row in rows
    ] == [
        (
            full["eventId"],
            "TYPE_VIEW_CLICKED",
            start,
            "com.kakao.talk",
            "android.widget.Button",
            "보내기",
            "Send\nnow",
            "com.kakao.talk:id/send",
            "[0,0][100,50]",
            False,
            data,
        ),
        (
            secret["eventId"],
            "TYPE_VIEW_CLICKED",
            start + timedelta(seconds=1),
            "com.kakao.talk",
            None,
            None,
            None,
            "app:id/password_field",
            None,
            True,
            None,
        ),
    ]
    assert await event_count(recording_id) == 2


async def test_events_page_through_the_timeline(gql, drain) -> None:
    # Given 25 stored events
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    batch = clicks(25)
    await gql.data(APPEND, {"id": recording_id, "events": batch}, token=owner.token)
    await wait_until_drained()
    # When the owner reads them 10 at a time
    seen: list[str] = []
    after = None
    while True:
        page = await gql.data(EVENTS, {"id": recording_id, "first": 10, "after": after}, token=owner.token)
        connection = page["recording"]["events"]
        seen += [edge["node"]["eventId"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    # Then they come in the phone's order, each once
    assert seen == [event["eventId"] for event in batch]


async def test_events_after_stop_are_accepted_as_the_phone_flushes(gql, drain) -> None:
    # Given a stopped recording
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    stopped = (await gql.data(STOP, {"id": recording_id}, token=owner.token))["stopRecording"]
    assert stopped["status"] == "COMPLETED"
    # When the phone flushes its buffer
    result = await gql.data(APPEND, {"id": recording_id, "events": clicks(2)}, token=owner.token)
    # Then the events are kept
    assert result["appendRecordingEvents"]["accepted"] == 2
    await wait_until_drained()
    assert await event_count(recording_id) == 2


async def test_activity_logs_are_drained_into_their_table(gql, drain) -> None:
    # Given a student taking part in a live session, with two behaviour events
    student = await make_account()
    room = await make_classroom()
    await join_as(room, student)
    session_id = room.id
    now = datetime.now(UTC)
    events = [
        {
            "eventId": str(uuid.uuid4()),
            "eventType": "step_viewed",
            "occurredAt": iso(now),
            "sessionId": session_id,
        },
        {"eventId": str(uuid.uuid4()), "eventType": "tap", "occurredAt": iso(now), "data": {"x": 1}},
    ]
    # When they log them, twice (a retry)
    assert (await gql.data(LOG_ACTIVITY, {"events": events}, token=student.token)) == {"logActivity": 2}
    await gql.data(LOG_ACTIVITY, {"events": events}, token=student.token)
    await wait_until_drained()
    # Then each is stored once, with who sent it
    async with read_session() as db:
        rows = (await db.execute(select(ActivityEvent).order_by(ActivityEvent.event_type))).scalars().all()
    assert [(r.event_type, r.user_id, r.session_id, r.data) for r in rows] == [
        ("step_viewed", student.user.id, uuid.UUID(session_id), None),
        ("tap", student.user.id, None, {"x": 1}),
    ]


async def test_a_stopped_drain_commits_exactly_the_batches_it_stored() -> None:
    # Given a topic of its own holding 3,000 one-event messages of one recording, and a drain on it
    settings = get_settings()
    topic, group = f"drain-stop-{uuid.uuid4().hex[:8]}", f"drain-stop-{uuid.uuid4().hex[:8]}"
    recording = await recording_row(await instructor())
    producer = ActivityProducer(settings.kafka_bootstrap_servers, topic)
    rows = event_rows(recording, 3000)
    random.shuffle(rows)
    sends = [producer.send(str(i), encode_messages("recording", [row]), 1) for i, row in enumerate(rows)]
    assert all(await asyncio.gather(*sends))
    await producer.close()
    drain = Drain(settings.kafka_bootstrap_servers, topic, group, max_records=50)
    task = asyncio.create_task(drain.run())

    # When it is stopped in the middle of the work
    async def started() -> bool:
        return await stored_events(str(recording)) > 0

    await eventually(started)
    drain.stop()
    await task
    # Then what it stored is exactly what it committed: nothing half-done is left behind
    offsets = await end_offsets(settings.kafka_bootstrap_servers, topic, group)
    committed = sum(done for _, done in offsets.values())
    assert 0 < committed < 3000
    assert await stored_events(str(recording)) == committed
    assert await event_count(str(recording)) == committed


async def test_consumer_lag_and_drain_rows_are_in_metrics(gql, drain) -> None:
    # Given a drained batch (the app registers the Kafka scrape hook at start-up)
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    await gql.data(APPEND, {"id": recording_id, "events": clicks(4)}, token=owner.token)
    await wait_until_drained()
    # When Prometheus scrapes
    text = (await gql.http.get("/metrics")).text
    # Then every partition shows no lag, and the drain's figures are there
    lag_lines = [line for line in text.splitlines() if line.startswith("studymate_kafka_consumer_lag{")]
    assert len(lag_lines) == 6 and all(line.endswith(" 0.0") for line in lag_lines)
    assert drain.rows_total >= 4
    assert f"studymate_activity_drain_rows_total {float(drain.rows_total)}" in text
    assert "studymate_activity_drain_rows_per_second " in text
