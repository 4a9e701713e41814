"""Poison events: what Postgres cannot store is refused at the api, and a drain fed such rows anyway
(produced straight to Kafka) parks them as dead letters and moves on."""

import asyncio
import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from core.db import read_session
from core.kafka import encode_messages, end_offsets, ensure_topic
from core.settings import get_settings
from models.recordings import ActivityEvent, DeadLetter
from tests.helpers.client import error_code
from tests.helpers.factories import make_account
from tests.helpers.recordings import (
    APPEND,
    LOG_ACTIVITY,
    clicks,
    eventually,
    instructor,
    start_recording,
    stored,
    topic_end,
)
from workers.ingest import Drain

NOW = datetime.now(UTC)


async def refused(gql: Any, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """The error of a refused batch, sent as JSON that may hold NaN and Infinity (Python's json module
    reads them, as the api's does), having checked that nothing of it reached Kafka or Postgres."""
    before = (await topic_end(), await stored())
    body = json.dumps({"query": query, "variables": variables})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = await gql.http.post("/graphql", content=body, headers=headers)
    assert (await topic_end(), await stored()) == before
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def activity(**fields: Any) -> dict[str, Any]:
    return {"eventId": str(uuid.uuid4()), "eventType": "tap", "occurredAt": NOW.isoformat(), **fields}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (activity(eventType="poison\x00"), "events[1].eventType"),
        (activity(data={"x": math.nan}), "events[1].data"),
        (activity(data={"x": math.inf}), "events[1].data"),
        (activity(data={"nested": ["a\x00b"]}), "events[1].data"),
        (activity(data={"key\x00": 1}), "events[1].data"),
        (activity(data={"x": "\ud800"}), "events[1].data"),
        (activity(eventType="\ud800"), "events[1].eventType"),
    ],
)
async def test_log_activity_refuses_what_postgres_cannot_store(gql, event, field) -> None:
    # Given a student's batch with one unstorable event between good ones
    student = await make_account()
    events = [activity(), event, activity()]
    # When it is logged, then the whole batch is refused, naming the event and field, and nothing was
    # produced or stored
    error = await refused(gql, LOG_ACTIVITY, {"events": events}, student.token)
    assert (error_code(error), error["extensions"]["field"], error["extensions"]["index"]) == (
        "BAD_USER_INPUT",
        field,
        1,
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "typed\x00"}, "events[0].text"),
        ({"eventType": "TYPE_VIEW_CLICKED\x00"}, "events[0].eventType"),
        ({"viewId": "app:id/\x1b"}, "events[0].viewId"),
        ({"data": {"x": math.nan}}, "events[0].data"),
        ({"contentDescription": "\ud800"}, "events[0].contentDescription"),
    ],
)
async def test_append_recording_events_refuses_what_postgres_cannot_store(gql, change, field) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = clicks(2)
    events[0].update(change)
    error = await refused(gql, APPEND, {"id": recording_id, "events": events}, owner.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)


def row(event_type: str = "tap", **fields: Any) -> dict[str, Any]:
    """An activity row as the api would produce it."""
    return {
        "event_id": str(uuid.uuid4()),
        "user_id": None,
        "participant_id": str(uuid.uuid4()),
        "session_id": None,
        "step_id": None,
        "recording_id": None,
        "event_type": event_type,
        "occurred_at": (NOW - timedelta(seconds=1)).isoformat(),
        "received_at": NOW.isoformat(),
        "data": None,
        **fields,
    }


async def test_poison_messages_go_to_dead_letters_and_the_drain_moves_on(gql) -> None:
    # Given a topic holding good rows with poison produced straight to Kafka (bypassing the api) between
    # them: rows Postgres refuses inside a message of good ones, and a message nobody can read
    settings = get_settings()
    topic, group = f"poison-{uuid.uuid4().hex[:8]}", f"poison-{uuid.uuid4().hex[:8]}"
    good = [row() for _ in range(6)]
    nul, nan, missing = row("poison\x00"), row(data={"x": math.nan}), row()
    del missing["event_type"]
    messages = [
        encode_messages("activity", good[:2]),
        # The api writes standard JSON (orjson, where NaN cannot exist); another producer may not.
        [json.dumps({"kind": "activity", "events": [good[2], nul, good[3], nan]}).encode()],
        [b"\x00not json"],
        encode_messages("activity", [missing, good[4]]),
        encode_messages("activity", [good[5]]),
    ]
    await ensure_topic(settings.kafka_bootstrap_servers, topic)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for batch in messages:
            for value in batch:
                await producer.send_and_wait(topic, value, key=b"session-1", partition=0)
    finally:
        await producer.stop()
    # When the worker's drain runs on it
    drain = Drain(settings.kafka_bootstrap_servers, topic, group)
    task = asyncio.create_task(drain.run())
    try:

        async def committed_to_the_end() -> bool:
            return all(end == done for end, done in (await end_offsets(*drain_of(topic, group))).values())

        await eventually(committed_to_the_end)
    finally:
        drain.stop()
        await task
    # Then every good row is stored, each poison row is a dead letter with its reason and position,
    # and the offsets moved past all of them
    async with read_session() as db:
        stored = set((await db.execute(select(ActivityEvent.event_id))).scalars())
        order = (DeadLetter.offset, DeadLetter.position)
        letters = list((await db.execute(select(DeadLetter).order_by(*order))).scalars())
    assert stored == {uuid.UUID(r["event_id"]) for r in good}
    assert [(d.topic, d.partition, d.offset, d.position, d.key, d.error.split(":")[0]) for d in letters] == [
        (topic, 0, 1, 1, "session-1", "SQLSTATE 22021"),  # invalid byte sequence: NUL
        (topic, 0, 1, 3, "session-1", "SQLSTATE 22P02"),  # invalid input syntax for type json: NaN
        (topic, 0, 2, -1, "session-1", "unreadable message"),
        (topic, 0, 3, 0, "session-1", "SQLSTATE 23502"),  # not-null violation
    ]
    assert json.loads(letters[0].payload) == nul
    assert letters[2].payload == "\\x00not json"
    ends = await end_offsets(*drain_of(topic, group))
    assert ends == {p: (5, 5) if p == 0 else (0, 0) for p in ends}
    # And the dead letters show in /metrics and in /health/ready
    metrics = (await gql.http.get("/metrics")).text
    assert "studymate_activity_dead_letter_rows 4.0" in metrics
    kafka = (await gql.http.get("/health/ready")).json()["components"]["kafka"]
    assert (kafka["deadLetters"], kafka["consumerLag"]) == (4, 0)


def drain_of(topic: str, group: str) -> tuple[str, str, str]:
    return get_settings().kafka_bootstrap_servers, topic, group
