"""The `recording.analyze` job: a recording's events into guide steps.

The job carries the recording id and the analysis version it was queued for, and writes its result
only while the recording is still PROCESSING that version, so a stale or duplicate job never overwrites
a newer result. Events may still be on their way through Kafka when the analysis is asked for; the job
first waits for the drain to catch up with the topic as it was then.

With an AI provider configured, the (redacted) actions go to the LLM in chunks through `ai.structured`:
each answer is a list of `AnalyzedStep` (the shape steps are stored in) citing only events of its chunk;
an invalid one is asked again once, then the next provider is asked, and when no provider gives a valid
answer in time (or none is configured) the deterministic segmenter makes the steps, with the reason in
`analysisError`.
"""

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from core import ai, ai_providers
from core.db import read_session, transaction
from core.errors import AiUnavailable
from core.jobs import job_queue
from core.kafka import wait_for_drain
from models.recordings import AnalyzedStep, Recording, RecordingStatus
from resolvers.recordings.lifecycle import (
    ANALYZE_JOB,
    analyses_in_progress,
    analysis_job_id,
    events_for_analysis,
    finish_analysis,
)
from workers.segmenter import Action, actions_from, analyzed_step, redact_for_prompt, segment

logger = logging.getLogger(__name__)

MAX_TRIES = 3
CHUNK_ACTIONS = 150
DRAIN_WAIT_SECONDS = 30.0
SEGMENTER_MODEL = "segmenter"
SYSTEM_PROMPT = """You turn a recording of an instructor using an Android phone into a step-by-step guide
for seniors who are new to smartphones. You get the recorded user actions as JSON: CLICK, LONG_CLICK,
SCROLL, INPUT (typing) and NAVIGATE (a new screen), with the on-screen element of each.
Group actions into the steps a learner must do, in order. Leave out accidental or repeated actions.
Write short, warm, concrete sentences: one action per step, name what to look for on the screen.
Never repeat text marked "sensitive" or "[redacted]".
Answer with the steps: for each, its title, description, target_action, the on-screen target, the
source_event_ids (ids of the actions of this step), guide_text and voice_guide_text (one short sentence
to be read aloud)."""


class AiAnswer(BaseModel):
    """The LLM's answer: analysed steps, validated by the model they are stored as."""

    steps: list[AnalyzedStep] = Field(min_length=1)


@dataclass(frozen=True)
class Analysis:
    steps: list[AnalyzedStep]
    model: str
    error: str | None


def cites_only(actions: Sequence[Action]) -> Callable[[AiAnswer], None]:
    """A check of an answer: its steps cite only events of `actions` (InvalidAnswer otherwise)."""
    known = {action.event_id for action in actions}

    def check(answer: AiAnswer) -> None:
        for step in answer.steps:
            unknown = [event_id for event_id in step.source_event_ids if event_id not in known]
            if unknown:
                cited = unknown[:3]
                raise ai.InvalidAnswer(f"the answer cites events that are not in the recording: {cited}")

    return check


def _with_recorded_target(step: AnalyzedStep, actions: Sequence[Action]) -> AnalyzedStep:
    """The AI's words, with the UI target taken from the recorded events (never from the AI's guess)."""
    by_id = {action.event_id: action for action in actions}
    sources = [by_id[event_id] for event_id in step.source_event_ids]
    matching = [a for a in sources if a.action is step.target_action] or sources
    recorded = analyzed_step(matching[-1], step.source_event_ids)
    return step.model_copy(
        update={
            "target": recorded.target,
            "voice_guide_text": step.voice_guide_text or recorded.voice_guide_text,
        }
    )


async def _ask_chunk(
    recording: Recording, chunk: Sequence[Action], part: int, parts: int
) -> tuple[list[AnalyzedStep], str]:
    prompt = (
        f"Recording: {json.dumps(recording.title, ensure_ascii=False)}"
        + (
            f"\nAbout: {json.dumps(recording.description, ensure_ascii=False)}"
            if recording.description
            else ""
        )
        + f"\nPart {part} of {parts} of the recording. Actions:\n"
        + json.dumps(redact_for_prompt(chunk), ensure_ascii=False)
    )
    answer = await ai.structured(AiAnswer, system=SYSTEM_PROMPT, prompt=prompt, check=cites_only(chunk))
    return answer.value.steps, answer.model


async def analyse(recording: Recording, actions: Sequence[Action]) -> Analysis:
    if not ai_providers.configured_providers():
        return Analysis(
            segment(actions), SEGMENTER_MODEL, "No AI provider is configured; steps made by the segmenter"
        )
    chunks = [actions[i : i + CHUNK_ACTIONS] for i in range(0, len(actions), CHUNK_ACTIONS)]
    steps: list[AnalyzedStep] = []
    models: list[str] = []
    try:
        for part, chunk in enumerate(chunks, 1):
            answer, model = await _ask_chunk(recording, chunk, part, len(chunks))
            models.append(model)
            steps += [_with_recorded_target(step, chunk) for step in answer]
    except AiUnavailable as error:
        return Analysis(segment(actions), SEGMENTER_MODEL, f"{error.message}; steps made by the segmenter")
    return Analysis(steps, ", ".join(dict.fromkeys(models)), None)


async def requeue_stalled_analyses(ctx: dict[str, Any]) -> int:
    """Queues again the analysis of every PROCESSING recording; returns how many jobs were new.

    The mutation queues its job after the commit; if Redis was unreachable at that moment the recording
    would wait forever. The job id makes this a no-op for jobs already queued, and the version ticket
    makes a late duplicate harmless.
    """
    async with read_session() as db:
        in_progress = await analyses_in_progress(db)
    queue = await job_queue()
    queued = 0
    for recording_id, version in in_progress:
        job = await queue.enqueue_job(
            ANALYZE_JOB, str(recording_id), version, _job_id=analysis_job_id(recording_id, version)
        )
        queued += job is not None
    if queued:
        logger.warning("queued %d stalled recording analyses again", queued)
    return queued


async def analyze_recording(ctx: dict[str, Any], recording_id: str, version: int) -> str:
    """Returns what happened, for arq's job result: analyzed, failed or stale."""
    try:
        return await _analyze(uuid.UUID(recording_id), version)
    except Exception:
        if ctx.get("job_try", 1) < MAX_TRIES:
            raise
        logger.exception("analysis of recording %s failed for good", recording_id)
        async with transaction() as db:
            await finish_analysis(
                db,
                uuid.UUID(recording_id),
                version,
                steps=None,
                error="The analysis failed unexpectedly",
                model=None,
            )
        return "failed"


async def _analyze(recording_id: uuid.UUID, version: int) -> str:
    async with read_session() as db:
        recording = await db.get(Recording, recording_id)
    if (
        recording is None
        or recording.status is not RecordingStatus.PROCESSING
        or recording.analysis_version != version
    ):
        return "stale"
    if not await wait_for_drain(DRAIN_WAIT_SECONDS):
        logger.warning("analysing recording %s before the Kafka drain caught up", recording_id)
    async with read_session() as db:
        actions = actions_from(await events_for_analysis(db, recording_id))
    if actions:
        result = await analyse(recording, actions)
    else:
        result = Analysis([], SEGMENTER_MODEL, "The recording has no taps, scrolls, typing or screen changes")
    async with transaction() as db:
        stored = await finish_analysis(
            db, recording_id, version, steps=result.steps or None, error=result.error, model=result.model
        )
    if stored is None:
        return "stale"
    return stored.status.value.lower()
