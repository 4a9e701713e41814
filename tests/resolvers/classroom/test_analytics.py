"""The session analytics figures of SPEC.md, pinned on hand-made rows."""

import uuid
from datetime import UTC, datetime, timedelta

from models.classroom import (
    HelpRequest,
    HelpStatus,
    LiveSession,
    Participant,
    ParticipantStatus,
    ProgressStatus,
    SessionStatus,
    Step,
    StepProgress,
)
from resolvers.classroom import StuckReason, analyse

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def session_in(status: SessionStatus, started_ago: float) -> LiveSession:
    return LiveSession(
        lecture_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        instructor_id=uuid.uuid4(),
        title="Photos",
        code="ABCDEF",
        status=status,
        started_at=ago(started_ago),
    )


def test_completion_median_delay_help_bottleneck_and_stuck_students() -> None:
    # Given a session 20 minutes in, two steps, four present participants and one who left
    session = session_in(SessionStatus.IN_PROGRESS, 1200)
    first, second = (
        Step(task_id=session.task_id, position=n, title=f"Step {n}", guide_text="Tap") for n in (1, 2)
    )
    quick, steady, slow, asking = (
        Participant(
            session_id=session.id, display_name=name, status=ParticipantStatus.ACTIVE, joined_at=ago(1200)
        )
        for name in ("Quick", "Steady", "Slow", "Asking")
    )
    gone = Participant(
        session_id=session.id, display_name="Gone", status=ParticipantStatus.LEFT, joined_at=ago(1200)
    )

    def done(who: Participant, seconds: float, finished_ago: float) -> StepProgress:
        return StepProgress(
            session_id=session.id,
            participant_id=who.id,
            step_id=first.id,
            status=ProgressStatus.COMPLETED,
            attempts=1,
            started_at=ago(finished_ago + seconds),
            completed_at=ago(finished_ago),
            updated_at=ago(finished_ago),
        )

    progress = [
        done(quick, 10, 600),  # finished ten minutes ago, nothing since: stuck without progress
        done(steady, 20, 30),
        done(slow, 60, 5),
        StepProgress(
            session_id=session.id,
            participant_id=asking.id,
            step_id=first.id,
            status=ProgressStatus.HELP_NEEDED,
            attempts=2,
            started_at=ago(100),
            updated_at=ago(50),
        ),
    ]
    help_request = HelpRequest(
        session_id=session.id,
        participant_id=asking.id,
        step_id=first.id,
        status=HelpStatus.PENDING,
        created_at=ago(50),
    )

    # When the figures are computed with two participants online
    analytics = analyse(
        session,
        [first, second],
        [quick, steady, slow, asking, gone],
        progress,
        [help_request],
        frozenset({quick.id, steady.id, gone.id}),
        NOW,
    )

    # Then the one who left counts nowhere
    assert (analytics.participants_total, analytics.participants_online, analytics.open_help_requests) == (
        4,
        2,
        1,
    )
    # Step 1: median of 10, 20, 60 s is 20 s; Slow (60 s) and Asking (100 s and counting) took ≥ 40 s
    one, two = analytics.steps
    assert (one.started, one.completed, one.completion_rate, one.median_seconds) == (4, 3, 0.75, 20.0)
    assert (one.delay_rate, one.help_rate) == (0.5, 0.25)
    assert one.bottleneck_score == 0.35  # 0.4 * 0.5 + 0.4 * 0.25 + 0.2 * 0.25
    # Step 2: nobody there yet
    assert (two.completion_rate, two.median_seconds, two.delay_rate, two.help_rate, two.bottleneck_score) == (
        0.0,
        None,
        0.0,
        0.0,
        0.2,
    )
    assert [(s.display_name, s.reason, s.step_id) for s in analytics.stuck] == [
        ("Quick", StuckReason.NO_PROGRESS, None),
        ("Asking", StuckReason.HELP_NEEDED, first.id),
    ]


def test_nobody_is_stuck_without_progress_while_the_session_is_paused() -> None:
    session = session_in(SessionStatus.PAUSED, 3600)
    idle = Participant(
        session_id=session.id, display_name="Idle", status=ParticipantStatus.ACTIVE, joined_at=ago(3600)
    )
    analytics = analyse(session, [], [idle], [], [], frozenset(), NOW)
    assert analytics.stuck == ()
