"""The focus timer's phases, a pure function of its start: phase k (0, 1, 2, …) is FOCUS when k is even and
BREAK when odd, and boundary k (where phase k begins) is the start plus whole phases, so nothing drifts."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.studyrooms import TimerPhase


@dataclass(frozen=True)
class TimerState:
    phase: TimerPhase
    ends_at: datetime
    round: int
    index: int


def boundary(started_at: datetime, focus_minutes: int, break_minutes: int, index: int) -> datetime:
    """Where phase `index` begins."""
    cycles, in_break = divmod(index, 2)
    minutes = cycles * (focus_minutes + break_minutes) + (focus_minutes if in_break else 0)
    return started_at + timedelta(minutes=minutes)


def phase_at(started_at: datetime, focus_minutes: int, break_minutes: int, index: int) -> TimerState:
    """Phase number `index`, with its end."""
    return TimerState(
        phase=TimerPhase.BREAK if index % 2 else TimerPhase.FOCUS,
        ends_at=boundary(started_at, focus_minutes, break_minutes, index + 1),
        round=index // 2 + 1,
        index=index,
    )


def timer_at(started_at: datetime, focus_minutes: int, break_minutes: int, now: datetime) -> TimerState:
    """The phase running at `now` (the first one before the start)."""
    cycle = timedelta(minutes=focus_minutes + break_minutes)
    elapsed = max(now - started_at, timedelta(0))
    cycles = elapsed // cycle
    in_break = elapsed - cycles * cycle >= timedelta(minutes=focus_minutes)
    return phase_at(started_at, focus_minutes, break_minutes, 2 * cycles + int(in_break))
