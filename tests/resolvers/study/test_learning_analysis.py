"""The pure learning analysis: scripted events at pinned times, and the exact figures they give."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from resolvers.study.learning.analysis import (
    AnalysisState,
    LearningAlertKind,
    LearningEventType,
    advance,
    analyse,
    apply,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SESSION = uuid.UUID(int=1)
E = LearningEventType


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def play(script: list[tuple[float, LearningEventType, bool]]) -> AnalysisState:
    state = AnalysisState.initial(T0)
    for minutes, event, correct in script:
        state = apply(state, event, at(minutes), correct=correct)
    return state


@dataclass(frozen=True)
class Case:
    name: str
    script: list[tuple[float, LearningEventType, bool]]
    minutes: float
    focus: float
    velocity: float
    efficiency: float
    alerts: tuple[LearningAlertKind, ...] = ()


CASES = [
    Case("a session just started", [], 0, focus=100.0, velocity=0.0, efficiency=0.0),
    # Away for one time constant: 100 * e^-1.
    Case("five minutes away", [(0, E.FOCUS_LOST, False)], 5, 36.8, 0.0, 0.0, (LearningAlertKind.LOW_FOCUS,)),
    Case("idle counts as away", [(0, E.IDLE, False)], 10, 13.5, 0.0, 0.0, (LearningAlertKind.LOW_FOCUS,)),
    # Back for one time constant: 100 + (36.79 - 100) * e^-1.
    Case(
        "five minutes away, five back",
        [(0, E.FOCUS_LOST, False), (5, E.FOCUS_GAINED, False)],
        10,
        76.7,
        0.0,
        0.0,
    ),
    Case(
        "answering ends a pause",
        [(0, E.FOCUS_LOST, False), (5, E.QUIZ_ANSWERED, True)],
        10,
        76.7,
        velocity=6.0,
        efficiency=0.2,
    ),
    Case(
        "three items in half an hour, two right over ten active minutes",
        [
            (0, E.SUMMARY_READ, False),
            (5, E.QUIZ_ANSWERED, True),
            (8, E.QUIZ_ANSWERED, True),
            (10, E.IDLE, False),
        ],
        30,
        focus=1.8,
        velocity=6.0,
        efficiency=0.2,
        alerts=(LearningAlertKind.LOW_FOCUS,),
    ),
    Case("a wrong answer counts for velocity only", [(0, E.QUIZ_ANSWERED, False)], 30, 100.0, 2.0, 0.0),
    # One answer after ten seconds counts over the one-minute floor, not as 360 an hour.
    Case("rates over the first minute", [(10 / 60, E.QUIZ_ANSWERED, True)], 10 / 60, 100.0, 60.0, 1.0),
    Case("45 minutes without a pause", [], 45, 100.0, 0.0, 0.0, (LearningAlertKind.TAKE_A_BREAK,)),
    Case(
        "a pause restarts the 45 minutes",
        [(30, E.FOCUS_LOST, False), (31, E.FOCUS_GAINED, False)],
        75,
        100.0,
        0.0,
        0.0,
    ),
    Case(
        "45 minutes after the pause",
        [(30, E.FOCUS_LOST, False), (31, E.ACTIVE, False)],
        76,
        100.0,
        0.0,
        0.0,
        (LearningAlertKind.TAKE_A_BREAK,),
    ),
    Case(
        "past 90 minutes, with pauses",
        [
            (40, E.FOCUS_LOST, False),
            (40.5, E.ACTIVE, False),
            (80, E.FOCUS_LOST, False),
            (80.5, E.ACTIVE, False),
        ],
        91,
        98.8,
        0.0,
        0.0,
        (LearningAlertKind.LONG_SESSION,),
    ),
    Case(
        "away at 90 minutes: low focus and long, no break needed",
        [(40, E.FOCUS_LOST, False), (40.5, E.ACTIVE, False), (80, E.IDLE, False)],
        95,
        5.0,
        0.0,
        0.0,
        (LearningAlertKind.LOW_FOCUS, LearningAlertKind.LONG_SESSION),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_figures_and_alerts(case: Case) -> None:
    analysis = analyse(SESSION, play(case.script), at(case.minutes))
    assert (analysis.focus, analysis.velocity, analysis.efficiency) == pytest.approx(
        (case.focus, case.velocity, case.efficiency), abs=0.05
    )
    assert tuple(alert.kind for alert in analysis.alerts) == case.alerts
    assert analysis.ended is False
    assert analysis.computed_at == at(case.minutes)


def test_each_alert_comes_with_its_advice() -> None:
    analysis = analyse(
        SESSION,
        play(
            [
                (1, E.SUMMARY_READ, False),
                (40, E.FOCUS_LOST, False),
                (40.5, E.ACTIVE, False),
                (80, E.IDLE, False),
            ]
        ),
        at(95),
    )
    assert analysis.recommendations == (
        "Silence notifications and close other apps for the next 15 minutes.",
        "Finish the topic you are on, then end the session for today.",
    )


def test_mostly_wrong_answers_suggest_reading_again() -> None:
    script = [(minute, E.QUIZ_ANSWERED, minute == 1) for minute in range(1, 6)]
    assert analyse(SESSION, play(script), at(6)).recommendations == (
        "Re-read the summary before answering more quizzes.",
    )


def test_nothing_studied_for_ten_minutes_suggests_a_quiz() -> None:
    assert analyse(SESSION, play([]), at(9)).recommendations == ()
    assert analyse(SESSION, play([]), at(10)).recommendations == (
        "Try a short quiz to check what you have learned so far.",
    )


def test_an_ended_session_is_analysed_as_it_ended_without_alerts() -> None:
    state = play([(0, E.FOCUS_LOST, False)])
    analysis = analyse(SESSION, state, now=at(60), ended_at=at(5))
    assert (analysis.focus, analysis.ended, analysis.alerts, analysis.recommendations) == (36.8, True, (), ())
    assert analysis.as_of == at(5)


def test_an_earlier_clock_adds_no_time() -> None:
    # Given a state updated at minute 10 by one api process
    state = play([(10, E.FOCUS_LOST, False)])
    # When another process, its clock a second behind, applies an event
    later = apply(state, E.FOCUS_GAINED, at(10) - timedelta(seconds=1))
    # Then no time went backwards and none was added
    assert (later.updated_at, later.focus, later.active_seconds, later.present) == (
        at(10),
        100.0,
        600.0,
        True,
    )


def test_advance_accumulates_active_time_only_while_present() -> None:
    state = advance(apply(AnalysisState.initial(T0), E.IDLE, at(3)), at(8))
    assert state.active_seconds == 180.0


def test_the_state_survives_its_redis_fields() -> None:
    state = play([(1, E.QUIZ_ANSWERED, True), (2, E.FOCUS_LOST, False)])
    assert AnalysisState.from_fields(state.to_fields()) == state
