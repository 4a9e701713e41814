"""Recordings seen from a test: event batches, a running drain and the waits on it, and a demonstration
analysed end to end. Shared by the ingest, analysis and recordings api tests."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.auth import Role
from core.db import read_session
from core.kafka import consumer_lag, end_offsets
from core.settings import get_settings
from models.recordings import ActivityEvent, Recording, RecordingEvent
from tests.helpers.factories import Account, make_account
from tests.helpers.jobs import run_jobs
from workers.ingest import Drain

START = "mutation($title: String!) { startRecording(title: $title) { id status eventCount } }"
APPEND = """
mutation($id: ID!, $events: [RecordingEventInput!]!) {
  appendRecordingEvents(recordingId: $id, events: $events) { recordingId accepted deliveredVia }
}"""
STOP = "mutation($id: ID!) { stopRecording(id: $id) { id status endedAt durationSeconds } }"
LOG_ACTIVITY = "mutation($events: [ActivityEventInput!]!) { logActivity(events: $events) }"
DEADLINE_SECONDS = 30.0


def iso(moment: datetime) -> str:
    return moment.isoformat()


def click(at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "TYPE_VIEW_CLICKED",
        "occurredAt": iso(at),
        "packageName": "com.kakao.talk",
        **fields,
    }


def clicks(count: int, start: datetime | None = None) -> list[dict[str, Any]]:
    start = start or datetime.now(UTC) - timedelta(minutes=1)
    return [click(start + timedelta(milliseconds=10 * i), text=f"Button {i}") for i in range(count)]


async def start_recording(gql: Any, account: Account, title: str = "Send a photo") -> str:
    recording_id: str = (await gql.data(START, {"title": title}, token=account.token))["startRecording"]["id"]
    return recording_id


async def instructor() -> Account:
    return await make_account(Role.INSTRUCTOR)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Polls `check` until it holds: a database or a consumer group has no event to await."""
    async with asyncio.timeout(DEADLINE_SECONDS):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def wait_until_drained() -> None:
    """Until the drain's group has committed everything on the topic."""

    async def drained() -> bool:
        return not any((await consumer_lag()).values())

    await eventually(drained)


async def stored_events(recording_id: str) -> int:
    async with read_session() as db:
        statement = select(func.count()).select_from(RecordingEvent)
        count = (
            await db.execute(statement.where(RecordingEvent.recording_id == uuid.UUID(recording_id)))
        ).scalar_one()
    return int(count)


async def event_count(recording_id: str) -> int:
    async with read_session() as db:
        recording = await db.get(Recording, uuid.UUID(recording_id))
    assert recording is not None
    return recording.event_count


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


async def run_drain(drain: Drain) -> AsyncIterator[Drain]:
    task = asyncio.create_task(drain.run())
    try:
        yield drain
    finally:
        drain.stop()
        await task


@pytest.fixture(scope="module")
async def drain() -> AsyncIterator[Drain]:
    """The worker's drain on the shared topic and group, running beside the tests of a module."""
    async for running in run_drain(Drain.from_settings()):
        yield running


async def recording_row(owner: Account) -> uuid.UUID:
    from core.db import transaction
    from resolvers.recordings import lifecycle

    async with transaction() as db:
        recording = await lifecycle.start_recording(db, _actor(owner), "Direct", None, None)
    return recording.id


async def join_as(room: Any, account: Account) -> None:
    """`account` joins the room's live session as a signed-in participant."""
    from core.db import transaction
    from resolvers import classroom

    async with transaction() as db:
        await classroom.join_session(db, _actor(account), room.session.code, "Student", None, "10.0.0.1")


def _actor(account: Account) -> Any:
    from core.auth import UserActor

    return UserActor(account.user.id, account.user.role)


def event_rows(recording_id: uuid.UUID, count: int) -> list[dict[str, Any]]:
    from resolvers.recordings.events import recording_event_rows

    start = datetime.now(UTC) - timedelta(minutes=5)
    rows: list[dict[str, Any]] = []
    for offset in range(0, count, 500):
        events = [
            {
                "eventId": str(uuid.uuid4()),
                "eventType": "TYPE_VIEW_CLICKED",
                "occurredAt": start + timedelta(milliseconds=i),
            }
            for i in range(offset, min(offset + 500, count))
        ]
        rows += recording_event_rows(recording_id, events)
    return rows


ANALYZE = "mutation($id: ID!) { analyzeRecording(id: $id) { id status analysisError } }"
RESULT = """
query($id: ID!) {
  recording(id: $id) {
    status analysisError
    analysis { order title targetAction guideText voiceGuideText sourceEventIds
               target { viewId text contentDescription packageName className } }
  }
}"""
SECRET = "hunter2-very-secret"
PACKAGE = "com.kakao.talk"


def demonstration() -> list[dict[str, Any]]:
    """Sending a message in KakaoTalk, with the noise a real phone sends and a password typed midway."""
    t0 = datetime.now(UTC) - timedelta(minutes=2)

    def event(seconds: float, event_type: str, **fields: Any) -> dict[str, Any]:
        at = (t0 + timedelta(seconds=seconds)).isoformat()
        return {
            "eventId": str(uuid.uuid4()),
            "eventType": event_type,
            "occurredAt": at,
            "packageName": PACKAGE,
            **fields,
        }

    main = f"{PACKAGE}.activity.main.MainActivity"
    return [
        event(0.0, "TYPE_WINDOW_STATE_CHANGED", className=main, text="KakaoTalk"),
        event(0.2, "TYPE_VIEW_FOCUSED", className="android.widget.FrameLayout"),
        event(1.0, "TYPE_VIEW_CLICKED", viewId=f"{PACKAGE}:id/tab_chats", text="Chats"),
        event(1.4, "TYPE_WINDOW_STATE_CHANGED", className=f"{PACKAGE}.activity.ChatListActivity"),
        event(1.5, "TYPE_WINDOW_CONTENT_CHANGED"),
        event(3.0, "TYPE_VIEW_SCROLLED", viewId=f"{PACKAGE}:id/chat_list"),
        event(3.4, "TYPE_VIEW_SCROLLED", viewId=f"{PACKAGE}:id/chat_list"),
        event(3.9, "TYPE_VIEW_SCROLLED", viewId=f"{PACKAGE}:id/chat_list"),
        event(6.0, "TYPE_VIEW_CLICKED", viewId=f"{PACKAGE}:id/search", contentDescription="Search"),
        event(7.0, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/query", text="M"),
        event(7.3, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/query", text="Mo"),
        event(7.6, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/query", text="Mom"),
        event(9.0, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/pin", contentDescription="PIN",
              text=SECRET, isSensitive=True),
        event(10.0, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/code", contentDescription="Code",
              text=SECRET, data={"isPassword": True}),
        event(12.0, "TYPE_VIEW_LONG_CLICKED", viewId=f"{PACKAGE}:id/bubble", text="Hello"),
    ]  # fmt: skip


SEGMENTED = [  # (targetAction, title, indexes of the source events in `demonstration()`)
    ("NAVIGATE", "Go to the KakaoTalk screen", [0]),
    ("CLICK", "Tap “Chats”", [2, 3]),
    ("SCROLL", "Scroll to see more", [5, 6, 7]),
    ("CLICK", "Tap “Search”", [8]),
    ("INPUT", "Type “Mom”", [9, 10, 11]),
    ("INPUT", "Type your PIN", [12]),
    ("INPUT", "Type your Code", [13]),
    ("LONG_CLICK", "Press and hold “Hello”", [14]),
]


async def recorded(gql: Any, owner: Account) -> tuple[str, list[dict[str, Any]]]:
    """A stopped recording of the demonstration, drained into Postgres."""
    recording_id = await start_recording(gql, owner)
    events = demonstration()
    await gql.data(APPEND, {"id": recording_id, "events": events}, token=owner.token)
    await gql.data(STOP, {"id": recording_id}, token=owner.token)
    await wait_until_drained()
    return recording_id, events


async def analysed(gql: Any, owner: Account, recording_id: str) -> dict[str, Any]:
    queued = (await gql.data(ANALYZE, {"id": recording_id}, token=owner.token))["analyzeRecording"]
    assert queued["status"] == "PROCESSING"
    await run_jobs()
    result: dict[str, Any] = (await gql.data(RESULT, {"id": recording_id}, token=owner.token))["recording"]
    return result
