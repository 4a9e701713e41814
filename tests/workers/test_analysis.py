"""analyzeRecording end to end: events through Kafka, the arq job, the AI (a local fake) or the segmenter."""

import json
import math
import uuid
from collections.abc import AsyncIterator

import pytest
from arq.constants import job_key_prefix

from core.db import read_session
from core.redis import redis
from core.settings import get_settings
from models.recordings import Recording, RecordingEvent
from tests.helpers.client import LEGACY_WS, error_code, subscription
from tests.helpers.fake_ai_server import FakeAiServer, fake_ai_server
from tests.helpers.jobs import run_jobs
from tests.helpers.recordings import (
    ANALYZE,
    PACKAGE,
    RESULT,
    SECRET,
    SEGMENTED,
    analysed,
    drain,
    instructor,
    recorded,
    start_recording,
)
from workers import analysis

__all__ = ["drain"]


def ai_steps_from_prompt(prompt: str) -> str:
    """A well-behaved LLM: one step per action it was shown, in its own words."""
    actions, _ = json.JSONDecoder().raw_decode(prompt.split("Actions:\n", 1)[1])
    steps = [
        {
            "title": f"AI step for {action['action']}",
            "description": "Described by the model",
            "target_action": action["action"],
            "target": {"view_id": "made-up-by-the-model"},
            "source_event_ids": [action["id"]],
            "guide_text": "Gently, with one finger.",
            "voice_guide_text": "Now this.",
        }
        for action in actions
    ]
    return json.dumps({"steps": steps})


@pytest.fixture
async def fake_ai(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeAiServer]:
    async with fake_ai_server(ai_steps_from_prompt) as fake:
        settings = get_settings()
        monkeypatch.setattr(settings, "openai_api_key", "test-openai-key")
        monkeypatch.setattr(settings, "openai_base_url", fake.openai_url)
        monkeypatch.setattr(settings, "ai_timeout_seconds", 0.3)
        monkeypatch.setattr(settings, "ai_max_retries", 0)
        yield fake


async def test_without_an_ai_key_the_segmenter_makes_the_steps(gql, drain) -> None:
    # Given a drained demonstration and no AI provider
    owner = await instructor()
    recording_id, events = await recorded(gql, owner)
    # When it is analysed
    result = await analysed(gql, owner, recording_id)
    # Then the events became steps by the segmenter, which says why it was used
    assert result["status"] == "ANALYZED"
    assert result["analysisError"] == "No AI provider is configured; steps made by the segmenter"
    steps = result["analysis"]
    assert [(s["targetAction"], s["title"], s["sourceEventIds"]) for s in steps] == [
        (action, title, [events[i]["eventId"] for i in indexes]) for action, title, indexes in SEGMENTED
    ]
    assert [s["order"] for s in steps] == list(range(1, 9))
    assert steps[1]["target"] == {
        "viewId": f"{PACKAGE}:id/tab_chats",
        "text": "Chats",
        "contentDescription": None,
        "packageName": PACKAGE,
        "className": None,
    }
    assert steps[1]["guideText"] == (
        "Find “Chats” on the screen and tap it once, gently, with your finger. The chat list screen opens."
    )
    assert SECRET not in json.dumps(result)


async def test_sensitive_and_password_text_is_never_stored_nor_sent_to_the_ai(gql, drain, fake_ai) -> None:
    # Given a demonstration with a PIN marked sensitive and a code typed into a password field
    owner = await instructor()
    recording_id, events = await recorded(gql, owner)
    # When it is analysed by the AI
    result = await analysed(gql, owner, recording_id)
    # Then the secret text is in no stored row, no request to the AI and no step
    async with read_session() as db:
        secret_rows = [await db.get(RecordingEvent, uuid.UUID(events[i]["eventId"])) for i in (12, 13)]
    assert [(row.text, row.is_sensitive) for row in secret_rows if row] == [(None, True), (None, True)]
    assert fake_ai.requests and all(SECRET not in prompt for prompt in fake_ai.prompts())
    assert SECRET not in json.dumps(result)


async def test_the_ai_writes_the_steps_with_targets_from_the_recorded_events(gql, drain, fake_ai) -> None:
    # Given a drained demonstration and an AI provider
    owner = await instructor()
    recording_id, events = await recorded(gql, owner)
    # When it is analysed
    result = await analysed(gql, owner, recording_id)
    # Then the model's words are used, its UI target is replaced by the recorded one, and noise never left
    assert (result["status"], result["analysisError"]) == ("ANALYZED", None)
    actionable = [0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    steps = result["analysis"]
    assert [s["sourceEventIds"] for s in steps] == [
        [events[i]["eventId"] for i in [index]] for index in actionable
    ]
    assert {s["title"] for s in steps} == {
        f"AI step for {a}" for a in ("NAVIGATE", "CLICK", "SCROLL", "INPUT", "LONG_CLICK")
    }
    assert steps[1]["target"]["viewId"] == f"{PACKAGE}:id/tab_chats"
    assert steps[1]["voiceGuideText"] == "Now this."
    async with read_session() as db:
        recording = await db.get(Recording, uuid.UUID(recording_id))
    assert recording is not None and recording.analysis_model == "gpt-4o-mini"


async def test_an_invalid_answer_is_asked_again_once(gql, drain, fake_ai) -> None:
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    fake_ai.reply("Sure! Here are your steps: 1. tap")
    result = await analysed(gql, owner, recording_id)
    assert (result["status"], result["analysisError"]) == ("ANALYZED", None)
    assert len(fake_ai.requests) == 2
    assert "Your previous answer was invalid" in fake_ai.prompts()[1]


async def test_two_invalid_answers_fall_back_to_the_segmenter_and_say_why(gql, drain, fake_ai) -> None:
    # Given an AI that answers with no steps, then cites an event that does not exist
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    fake_ai.reply('{"steps": []}')
    fake_ai.reply(
        json.dumps({"steps": [{"title": "x", "description": "y", "target_action": "CLICK", "target": {},
                               "source_event_ids": ["not-an-event"], "guide_text": "z"}]})
    )  # fmt: skip
    # When it is analysed
    result = await analysed(gql, owner, recording_id)
    # Then the segmenter's steps are used and the reason is given
    assert result["status"] == "ANALYZED"
    assert result["analysisError"] == (
        "No AI provider could answer (openai: answered invalidly twice (the answer cites events that are "
        "not in the recording: ['not-an-event'])); steps made by the segmenter"
    )
    assert [s["title"] for s in result["analysis"]] == [title for _, title, _ in SEGMENTED]


async def test_an_ai_timeout_falls_back_to_the_segmenter(gql, drain, fake_ai) -> None:
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    fake_ai.stall(1.0)
    result = await analysed(gql, owner, recording_id)
    assert result["status"] == "ANALYZED"
    assert (
        result["analysisError"]
        == "No AI provider could answer (openai: timed out); steps made by the segmenter"
    )
    assert len(result["analysis"]) == len(SEGMENTED)


async def test_long_recordings_go_to_the_ai_in_chunks(gql, drain, fake_ai, monkeypatch) -> None:
    # Given chunks of four actions
    monkeypatch.setattr(analysis, "CHUNK_ACTIONS", 4)
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    # When the 13 actions are analysed
    result = await analysed(gql, owner, recording_id)
    # Then four requests carried them, and the steps are numbered through
    assert len(fake_ai.requests) == math.ceil(13 / 4)
    assert [s["order"] for s in result["analysis"]] == list(range(1, 14))


async def test_analyze_sets_processing_before_the_job_is_queued(gql, drain) -> None:
    # Given a stopped recording
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    # When analysis is asked for
    answer = (await gql.data(ANALYZE, {"id": recording_id}, token=owner.token))["analyzeRecording"]
    # Then it is PROCESSING in Postgres, and the job for version 1 waits in the queue
    assert answer == {"id": recording_id, "status": "PROCESSING", "analysisError": None}
    async with read_session() as db:
        recording = await db.get(Recording, uuid.UUID(recording_id))
    assert recording is not None and (recording.status.value, recording.analysis_version) == ("PROCESSING", 1)
    assert await redis().exists(f"{job_key_prefix}recording.analyze:{recording_id}:1") == 1


async def test_a_recording_still_recording_cannot_be_analysed(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    error = await gql.error(ANALYZE, {"id": recording_id}, token=owner.token)
    assert error_code(error) == "CONFLICT"
    async with read_session() as db:
        recording = await db.get(Recording, uuid.UUID(recording_id))
    assert recording is not None and (recording.status.value, recording.analysis_version) == ("RECORDING", 0)
    assert await redis().keys(f"{job_key_prefix}recording.analyze:*") == []


async def test_a_stale_or_duplicate_job_never_overwrites_a_newer_result(gql, drain, fake_ai) -> None:
    # Given an analysis stored by version 1, then a second analysis queued (version 2)
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    first = await analysed(gql, owner, recording_id)
    await gql.data(ANALYZE, {"id": recording_id}, token=owner.token)
    # When a duplicate of the version 1 job runs
    outcome = await analysis.analyze_recording({"job_try": 1}, recording_id, 1)
    # Then it writes nothing: the recording is still PROCESSING version 2
    assert outcome == "stale"
    async with read_session() as db:
        recording = await db.get(Recording, uuid.UUID(recording_id))
    assert recording is not None and (recording.status.value, recording.analysis_version) == ("PROCESSING", 2)
    # And once version 2 finished, replaying it changes nothing either
    await run_jobs()
    assert await analysis.analyze_recording({"job_try": 1}, recording_id, 2) == "stale"
    final = (await gql.data(RESULT, {"id": recording_id}, token=owner.token))["recording"]
    assert final["status"] == "ANALYZED" and final["analysis"] == first["analysis"]


async def test_the_owner_sees_each_status_change_live(gql, api_url, drain) -> None:
    # Given a stopped recording and its owner subscribed to its status
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    query = "subscription($id: ID!) { recordingStatus(id: $id) { id status eventCount } }"
    async with subscription(api_url, LEGACY_WS, token=owner.token) as sub:
        await sub.start(query, {"id": recording_id})
        first = await sub.next_data()
        # When it is analysed
        await gql.data(ANALYZE, {"id": recording_id}, token=owner.token)
        processing = await sub.next_data()
        await run_jobs()
        analysed_ = await sub.next_data()
    # Then the owner saw the current state, then each change
    assert [m["recordingStatus"]["status"] for m in (first, processing, analysed_)] == [
        "COMPLETED",
        "PROCESSING",
        "ANALYZED",
    ]
    assert analysed_["recordingStatus"] == {"id": recording_id, "status": "ANALYZED", "eventCount": 15}


async def subscribe_commands() -> int:
    """How many SUBSCRIBE commands the Redis server has run (each api process's hub sends one per channel)."""
    stats = await redis().info("commandstats")
    return int(stats.get("cmdstat_subscribe", {}).get("calls", 0))


async def test_nobody_else_can_watch_a_recording(gql, api_url) -> None:
    # Given someone else's recording
    owner, other = await instructor(), await instructor()
    recording_id = await start_recording(gql, owner)
    query = "subscription($id: ID!) { recordingStatus(id: $id) { id status } }"
    before = await subscribe_commands()
    # When an instructor subscribes to its status
    async with subscription(api_url, LEGACY_WS, token=other.token) as sub:
        await sub.start(query, {"id": recording_id})
        message = await sub.receive()
    # Then it does not exist for them, and its channel was never subscribed to
    errors = message["payload"]["errors"] if message["type"] == "data" else message["payload"]
    assert [error_code(e) for e in errors] == ["NOT_FOUND"]
    assert await subscribe_commands() == before


async def test_an_analysis_whose_job_was_lost_is_queued_again_and_finishes(gql, drain) -> None:
    # Given a recording left PROCESSING with its job lost (Redis unreachable right after the commit)
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    await gql.data(ANALYZE, {"id": recording_id}, token=owner.token)
    await redis().delete(f"{job_key_prefix}recording.analyze:{recording_id}:1")
    await redis().delete("arq:queue")
    # When the worker's periodic check runs (it also runs at start-up), twice
    assert await analysis.requeue_stalled_analyses({}) == 1
    assert await analysis.requeue_stalled_analyses({}) == 0
    await run_jobs()
    # Then the recording is analysed once, as if nothing had been lost
    result = (await gql.data(RESULT, {"id": recording_id}, token=owner.token))["recording"]
    assert result["status"] == "ANALYZED"
