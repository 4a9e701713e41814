"""Live-classroom channels and their typed events.

An event carries what subscribers render (the step, the participant, the progress record), so a fan-out
costs no database read per subscriber. The `…View` models are those renderable values, built from rows
by `of`; the schema turns them into GraphQL types.
"""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from broadcast.events import BroadcastEvent
from broadcast.streams import SequencedStream
from models.classroom import (
    HelpRequest,
    HelpStatus,
    HelpType,
    Participant,
    ParticipantStatus,
    ProgressStatus,
    SessionStatus,
    Step,
    StepProgress,
    StepRecord,
    TargetAction,
    UiTarget,
)


def session_stream(session_id: uuid.UUID) -> SequencedStream:
    # The hash tag keeps both keys of a session on one Redis Cluster slot.
    return SequencedStream(f"session:{session_id}", f"{{session:{session_id}}}:seq")


def help_stream(session_id: uuid.UUID) -> SequencedStream:
    return SequencedStream(f"session:{session_id}:help", f"{{session:{session_id}}}:help-seq")


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepView(_View):
    id: uuid.UUID
    task_id: uuid.UUID
    order: int
    title: str
    description: str | None
    target_action: TargetAction | None
    guide_text: str
    voice_guide_text: str | None
    target_hint: UiTarget | None
    version: int
    removed: bool

    @classmethod
    def of(cls, step: Step | StepRecord) -> "StepView":
        return cls(
            id=step.id,
            task_id=step.task_id,
            order=step.position,
            title=step.title,
            description=step.description,
            target_action=step.target_action,
            guide_text=step.guide_text,
            voice_guide_text=step.voice_guide_text,
            target_hint=UiTarget.model_validate(step.target_hint) if step.target_hint else None,
            version=step.version,
            removed=step.removed_at is not None,
        )


class ParticipantView(_View):
    id: uuid.UUID
    session_id: uuid.UUID
    user_id: uuid.UUID | None
    display_name: str
    status: ParticipantStatus
    current_step_id: uuid.UUID | None
    completed_steps: int
    last_seen_at: datetime | None

    @classmethod
    def of(cls, participant: Participant) -> "ParticipantView":
        return cls(
            id=participant.id,
            session_id=participant.session_id,
            user_id=participant.user_id,
            display_name=participant.display_name,
            status=participant.status,
            current_step_id=participant.current_step_id,
            completed_steps=participant.completed_steps,
            last_seen_at=participant.last_seen_at,
        )


class ProgressView(_View):
    id: uuid.UUID
    participant: ParticipantView
    step: StepView
    status: ProgressStatus
    attempts: int
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, progress: StepProgress, participant: Participant, step: Step) -> "ProgressView":
        return cls(
            id=progress.id,
            participant=ParticipantView.of(participant),
            step=StepView.of(step),
            status=progress.status,
            attempts=progress.attempts,
            started_at=progress.started_at,
            completed_at=progress.completed_at,
        )


class HelpDiagnosis(_View):
    """The figures measured when help was asked for and, once the `help.diagnose` job has run, the
    probable problem and how to help (`model` is "rules" when no AI gave them). Stored with camelCase
    keys (`diagnosis` column); the advice keys are absent until then."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    attempts: int
    seconds_on_step: int = Field(alias="secondsOnStep")
    steps_behind: int = Field(alias="stepsBehind")
    problem: str | None = None
    suggested_help: str | None = Field(default=None, alias="suggestedHelp")
    help_type: HelpType | None = Field(default=None, alias="helpType")
    confidence: float | None = None
    model: str | None = None
    # What the AI call cost (SPEC "AI calls"); None for the rules.
    provider: str | None = None
    input_tokens: int | None = Field(default=None, alias="inputTokens")
    output_tokens: int | None = Field(default=None, alias="outputTokens")

    @property
    def diagnosed(self) -> bool:
        return self.model is not None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class HelpRequestView(_View):
    id: uuid.UUID
    session_id: uuid.UUID
    participant: ParticipantView
    step: StepView | None
    message: str | None
    status: HelpStatus
    created_at: datetime
    resolved_at: datetime | None
    response: str | None
    diagnosis: HelpDiagnosis | None
    rating: int | None = None

    @classmethod
    def of(
        cls, request: HelpRequest, participant: Participant, step: Step | StepRecord | None
    ) -> "HelpRequestView":
        return cls(
            id=request.id,
            session_id=request.session_id,
            participant=ParticipantView.of(participant),
            step=StepView.of(step) if step else None,
            message=request.message,
            status=request.status,
            created_at=request.created_at,
            resolved_at=request.resolved_at,
            response=request.response,
            diagnosis=HelpDiagnosis.model_validate(request.diagnosis) if request.diagnosis else None,
            rating=request.rating,
        )


# On `session_stream`.


class StepChanged(BroadcastEvent):
    step: StepView
    total_steps: int
    message: str | None = None


class SessionStatusChanged(BroadcastEvent):
    status: SessionStatus
    previous_status: SessionStatus


class ParticipantJoined(BroadcastEvent):
    participant: ParticipantView
    count: int


class ParticipantLeft(BroadcastEvent):
    participant: ParticipantView
    count: int


class InstructorMessage(BroadcastEvent):
    message: str


class ProgressUpdated(BroadcastEvent):
    progress: ProgressView


SessionChange = (
    StepChanged
    | SessionStatusChanged
    | ParticipantJoined
    | ParticipantLeft
    | InstructorMessage
    | ProgressUpdated
)


# On `help_stream`.


class HelpRequestCreated(BroadcastEvent):
    request: HelpRequestView


class HelpRequestUpdated(BroadcastEvent):
    request: HelpRequestView


HelpChange = HelpRequestCreated | HelpRequestUpdated
