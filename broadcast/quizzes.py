"""The quizzes' channels and events: a student's essays as the AI grades them.

`AttemptGraded` carries the result as the student reads it (with the session it counted in), so a
fan-out costs no database read.
"""

import uuid

from pydantic import BaseModel, ConfigDict

from broadcast.events import BroadcastEvent
from models.quizzes import GradingStatus, QuizAttempt, QuizSession, QuizSessionKind, QuizSessionStatus
from models.study import Difficulty


def graded_attempts_channel(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:graded_attempts"


class GradedSession(BaseModel):
    """The quiz session an essay counted in, as it was once the grade was counted."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    subject_id: uuid.UUID
    kind: QuizSessionKind
    status: QuizSessionStatus
    current_difficulty: Difficulty
    answered: int
    correct: int
    target_questions: int

    @classmethod
    def of(cls, session: QuizSession) -> "GradedSession":
        return cls(
            id=session.id,
            subject_id=session.subject_id,
            kind=session.kind,
            status=session.status,
            current_difficulty=session.current_difficulty,
            answered=session.answered,
            correct=session.correct,
            target_questions=session.target_questions,
        )


class AttemptGraded(BroadcastEvent):
    """An essay graded by AI, as the `AttemptResult` the student reads."""

    attempt_id: uuid.UUID
    grading_status: GradingStatus
    score: float
    points_earned: int
    feedback: str | None
    explanation: str | None
    correct_answer: str | None
    time_spent_seconds: int | None
    quiz_session: GradedSession | None

    @classmethod
    def of(
        cls,
        attempt: QuizAttempt,
        explanation: str | None,
        correct_answer: str | None,
        session: QuizSession | None,
    ) -> "AttemptGraded":
        assert attempt.score is not None and attempt.points_earned is not None, "a graded attempt"
        return cls(
            attempt_id=attempt.id,
            grading_status=attempt.grading_status,
            score=attempt.score,
            points_earned=attempt.points_earned,
            feedback=attempt.feedback,
            explanation=explanation,
            correct_answer=correct_answer,
            time_spent_seconds=attempt.time_spent_seconds,
            quiz_session=None if session is None else GradedSession.of(session),
        )
