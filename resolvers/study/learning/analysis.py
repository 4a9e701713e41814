"""The live analysis of a learning session, as pure functions of its state, an event and the time.

No I/O here: the state is stored in Redis by `store.py`, and every function takes `now` (the server's
clock) so tests can pin the figures exactly.

- **focus** (0 to 100) is an exponential moving average of presence: while the student is active it moves
  towards 100, while they are away (after FOCUS_LOST or IDLE) towards 0, with a time constant of
  FOCUS_TIME_CONSTANT. It starts at 100.
- **velocity**: summaries read and quizzes answered per hour of session.
- **efficiency**: correct answers per active minute.
"""

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

FOCUS_TIME_CONSTANT = timedelta(minutes=5)
LOW_FOCUS_BELOW = 40.0
LONG_SESSION_AFTER = timedelta(minutes=90)
BREAK_AFTER = timedelta(minutes=45)
# Rates over a very short stretch mean nothing (one answer in ten seconds is not 360 an hour): time
# below these floors counts as the floor.
MIN_ELAPSED = timedelta(minutes=1)
MIN_ACTIVE = timedelta(minutes=1)
LOW_ACCURACY_AFTER_ANSWERS = 5
LOW_ACCURACY_BELOW = 0.5
NOTHING_STUDIED_AFTER = timedelta(minutes=10)


class LearningEventType(StrEnum):
    SUMMARY_READ = "SUMMARY_READ"
    QUIZ_ANSWERED = "QUIZ_ANSWERED"
    FOCUS_LOST = "FOCUS_LOST"
    FOCUS_GAINED = "FOCUS_GAINED"
    IDLE = "IDLE"
    ACTIVE = "ACTIVE"


PAUSES = frozenset({LearningEventType.FOCUS_LOST, LearningEventType.IDLE})


class LearningAlertKind(StrEnum):
    LOW_FOCUS = "LOW_FOCUS"
    LONG_SESSION = "LONG_SESSION"
    TAKE_A_BREAK = "TAKE_A_BREAK"


@dataclass(frozen=True)
class AnalysisState:
    """Everything the analysis needs, as of `updated_at`."""

    started_at: datetime
    updated_at: datetime
    present: bool
    focus: float
    active_seconds: float
    studied: int
    answered: int
    correct: int
    # When the current stretch without a FOCUS_LOST/IDLE pause began.
    active_since: datetime

    @classmethod
    def initial(cls, started_at: datetime) -> "AnalysisState":
        return cls(
            started_at=started_at,
            updated_at=started_at,
            present=True,
            focus=100.0,
            active_seconds=0.0,
            studied=0,
            answered=0,
            correct=0,
            active_since=started_at,
        )

    def to_fields(self) -> dict[str, str]:
        """The flat string fields of the state's Redis hash."""
        return {
            "started_at": self.started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "present": "1" if self.present else "0",
            "focus": repr(self.focus),
            "active_seconds": repr(self.active_seconds),
            "studied": str(self.studied),
            "answered": str(self.answered),
            "correct": str(self.correct),
            "active_since": self.active_since.isoformat(),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "AnalysisState":
        return cls(
            started_at=datetime.fromisoformat(fields["started_at"]),
            updated_at=datetime.fromisoformat(fields["updated_at"]),
            present=fields["present"] == "1",
            focus=float(fields["focus"]),
            active_seconds=float(fields["active_seconds"]),
            studied=int(fields["studied"]),
            answered=int(fields["answered"]),
            correct=int(fields["correct"]),
            active_since=datetime.fromisoformat(fields["active_since"]),
        )


def advance(state: AnalysisState, now: datetime) -> AnalysisState:
    """The state at `now`, the time since `updated_at` spent in its present/away mode.

    A `now` earlier than `updated_at` (two api processes whose clocks differ a little) adds no time."""
    seconds = max(0.0, (now - state.updated_at).total_seconds())
    target = 100.0 if state.present else 0.0
    decay = math.exp(-seconds / FOCUS_TIME_CONSTANT.total_seconds())
    return replace(
        state,
        updated_at=max(state.updated_at, now),
        focus=target + (state.focus - target) * decay,
        active_seconds=state.active_seconds + (seconds if state.present else 0.0),
    )


def apply(
    state: AnalysisState, event: LearningEventType, now: datetime, *, correct: bool = False
) -> AnalysisState:
    """The state after `event` at `now`. Reading and answering are activity, so they end a pause too;
    `correct` matters for QUIZ_ANSWERED only."""
    current = advance(state, now)
    if event in PAUSES:
        return replace(current, present=False)
    current = replace(
        current,
        present=True,
        active_since=current.active_since if current.present else current.updated_at,
    )
    if event is LearningEventType.SUMMARY_READ:
        return replace(current, studied=current.studied + 1)
    if event is LearningEventType.QUIZ_ANSWERED:
        return replace(
            current,
            studied=current.studied + 1,
            answered=current.answered + 1,
            correct=current.correct + int(correct),
        )
    return current


@dataclass(frozen=True)
class LearningAlert:
    kind: LearningAlertKind
    message: str


@dataclass(frozen=True)
class LearningAnalysis:
    learning_session_id: UUID
    focus: float
    velocity: float
    efficiency: float
    alerts: tuple[LearningAlert, ...]
    recommendations: tuple[str, ...]
    ended: bool
    # The moment the figures describe (now, or the end of an ended session), and when they were computed;
    # left out of equality so that a live feed passes on only figures that changed.
    as_of: datetime = field(compare=False)
    computed_at: datetime = field(compare=False)


def analyse(
    session_id: UUID, state: AnalysisState, now: datetime, ended_at: datetime | None = None
) -> LearningAnalysis:
    """The figures at `now`, or at `ended_at` for an ended session (which has no alerts any more)."""
    as_of = min(now, ended_at) if ended_at is not None else now
    current = advance(state, as_of)
    elapsed = max(as_of - current.started_at, MIN_ELAPSED)
    active = max(timedelta(seconds=current.active_seconds), MIN_ACTIVE)
    alerts = () if ended_at is not None else _alerts(current, as_of)
    return LearningAnalysis(
        learning_session_id=session_id,
        focus=round(current.focus, 1),
        velocity=round(current.studied / (elapsed / timedelta(hours=1)), 2),
        efficiency=round(current.correct / (active / timedelta(minutes=1)), 3),
        alerts=alerts,
        recommendations=() if ended_at is not None else _recommendations(current, as_of, alerts),
        as_of=as_of,
        ended=ended_at is not None,
        computed_at=now,
    )


def _alerts(state: AnalysisState, now: datetime) -> tuple[LearningAlert, ...]:
    alerts: list[LearningAlert] = []
    if state.focus < LOW_FOCUS_BELOW:
        alerts.append(
            LearningAlert(LearningAlertKind.LOW_FOCUS, f"Your focus is down to {state.focus:.0f} out of 100.")
        )
    if now - state.started_at > LONG_SESSION_AFTER:
        alerts.append(
            LearningAlert(LearningAlertKind.LONG_SESSION, "You have been studying for more than 90 minutes.")
        )
    if state.present and now - state.active_since >= BREAK_AFTER:
        alerts.append(
            LearningAlert(LearningAlertKind.TAKE_A_BREAK, "You have worked for 45 minutes without a pause.")
        )
    return tuple(alerts)


_ADVICE = {
    LearningAlertKind.LOW_FOCUS: "Silence notifications and close other apps for the next 15 minutes.",
    LearningAlertKind.LONG_SESSION: "Finish the topic you are on, then end the session for today.",
    LearningAlertKind.TAKE_A_BREAK: "Take a 5-minute break: stand up, stretch and look away from the screen.",
}


def _recommendations(
    state: AnalysisState, now: datetime, alerts: tuple[LearningAlert, ...]
) -> tuple[str, ...]:
    advice = [_ADVICE[alert.kind] for alert in alerts]
    if state.answered >= LOW_ACCURACY_AFTER_ANSWERS and state.correct / state.answered < LOW_ACCURACY_BELOW:
        advice.append("Re-read the summary before answering more quizzes.")
    if state.studied == 0 and now - state.started_at >= NOTHING_STUDIED_AFTER:
        advice.append("Try a short quiz to check what you have learned so far.")
    return tuple(advice)
