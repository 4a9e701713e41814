"""A worker process killed in the middle of draining: the next one stores every event exactly once."""

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, select

from core.db import read_session
from core.kafka import ActivityProducer, encode_messages
from core.settings import get_settings
from models.recordings import RecordingEvent
from tests.helpers.recordings import (
    event_count,
    event_rows,
    eventually,
    instructor,
    recording_row,
    stored_events,
)

STUDYMATE = str(Path(sys.executable).parent / "studymate")
MESSAGES = 150
EVENTS_PER_MESSAGE = 200


@asynccontextmanager
async def worker_process(topic: str, group: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`studymate worker` on a topic and consumer group of its own, with the tests' environment."""
    env = {**os.environ, "KAFKA_ACTIVITY_TOPIC": topic, "KAFKA_CONSUMER_GROUP": group}
    process = await asyncio.create_subprocess_exec(
        STUDYMATE, "worker", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=30)


async def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing() -> None:
    # Given 30,000 events of one recording waiting on a topic
    settings = get_settings()
    topic, group = f"crash-{uuid.uuid4().hex[:8]}", f"crash-{uuid.uuid4().hex[:8]}"
    recording = await recording_row(await instructor())
    rows = event_rows(recording, MESSAGES * EVENTS_PER_MESSAGE)
    producer = ActivityProducer(settings.kafka_bootstrap_servers, topic)
    batches = [rows[i : i + EVENTS_PER_MESSAGE] for i in range(0, len(rows), EVENTS_PER_MESSAGE)]
    sent = [producer.send(str(recording), encode_messages("recording", b), len(b)) for b in batches]
    assert all(await asyncio.gather(*sent))
    await producer.close()

    # When a worker is killed (no clean shutdown) while it is draining them
    async def some_stored() -> bool:
        return await stored_events(str(recording)) > 0

    async with worker_process(topic, group) as doomed:
        await eventually(some_stored)
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    partial = await stored_events(str(recording))

    # And another worker takes over the group
    async def all_stored() -> bool:
        return await stored_events(str(recording)) >= len(rows)

    async with worker_process(topic, group) as successor:
        await eventually(all_stored)
        successor.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(successor.wait(), timeout=30) == 0

    # Then every event is stored exactly once and counted once
    assert 0 < partial < len(rows)
    async with read_session() as db:
        distinct = (
            await db.execute(
                select(func.count(func.distinct(RecordingEvent.event_id))).where(
                    RecordingEvent.recording_id == recording
                )
            )
        ).scalar_one()
    assert (await stored_events(str(recording)), distinct) == (len(rows), len(rows))
    assert await event_count(str(recording)) == len(rows)
