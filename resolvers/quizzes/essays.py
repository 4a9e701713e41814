"""Essays graded by AI: the state of a `quiz.grade_essay` job as the worker moves it, and the student's
`attemptGraded` stream.

An essay is answered PENDING and its job queued (see `attempts.submit_answer`). The job spends one
ESSAY_GRADING credit of the student, the AI grades it, and it becomes GRADED exactly as a grade by hand
would make it (`attempts.record_grade`). Without an AI provider, without a credit, or when the AI
fails, it becomes NEEDS_REVIEW for the quiz's author, and a credit spent on it is given back.

Every step locks the attempt row and acts only on a PENDING one, so a job arq runs twice spends once,
grades once and refunds at most once; an author who graded it meanwhile wins.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.hub import publish
from broadcast.quizzes import AttemptGraded, GradedSession, graded_attempts_channel
from broadcast.streams import events_of
from core.ai_providers import configured_providers
from core.auth import Actor, require_user
from core.db import after_commit
from core.errors import PaymentRequired
from models.base import utcnow
from models.billing import CreditKind
from models.quizzes import Answer, GradingStatus, QuizAttempt, QuizKey
from resolvers.billing import credits
from resolvers.quizzes.attempts import attempt_with_version, record_grade, view_of

NO_AI_ERROR = "No AI provider is configured; the quiz's author grades this essay"
NO_CREDIT_ERROR = "No essay-grading credit was left; the quiz's author grades this essay"
REFUND_REASON = "Refund: the essay could not be graded by AI"
AUTHOR_FIRST_REASON = "Refund: the quiz's author graded the essay first"
GRADING_REASON = "Essay grading"


def spend_key(attempt_id: uuid.UUID) -> str:
    """The idempotency key of an essay's grading credit: one spend per attempt, and one refund of it."""
    return f"essay:{attempt_id}"


@dataclass(frozen=True)
class EssayWork:
    """What the grader is given: the question and rubric of the version answered, and the essay."""

    attempt_id: uuid.UUID
    question: str
    rubric: str
    essay: str


@dataclass(frozen=True)
class EssayGrade:
    """The AI's grade and what it cost."""

    score: float
    feedback: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int


def _needs_review(attempt: QuizAttempt, error: str) -> None:
    attempt.grading_status = GradingStatus.NEEDS_REVIEW
    attempt.grading_error = error


async def start(db: AsyncSession, attempt_id: uuid.UUID) -> EssayWork | None:
    """Spends the student's credit (once per attempt) and returns what to grade; None when the essay is
    not PENDING any more, or was just sent to review (no AI provider, no credit left)."""
    found = await attempt_with_version(db, attempt_id, lock=True)
    if found is None or found[0].grading_status is not GradingStatus.PENDING:
        return None
    attempt, version, _ = found
    if not configured_providers():
        _needs_review(attempt, NO_AI_ERROR)
        return None
    try:
        # A refused spend rolls back to here; the attempt's lock, taken before, stays held.
        async with db.begin_nested():
            await credits.spend(
                db, attempt.user_id, CreditKind.ESSAY_GRADING, GRADING_REASON, spend_key(attempt.id)
            )
    except PaymentRequired:
        _needs_review(attempt, NO_CREDIT_ERROR)
        return None
    return EssayWork(
        attempt_id=attempt.id,
        question=version.question,
        rubric=QuizKey.model_validate(version.key).rubric or "",
        essay=Answer.model_validate(attempt.answer).text or "",
    )


async def finish(db: AsyncSession, attempt_id: uuid.UUID, graded: EssayGrade) -> bool:
    """Records the AI's grade and, after the commit, pushes it on the student's `attemptGraded`; False
    when the essay was graded or sent to review meanwhile. An author's grade that came first wins, and
    the credit spent on the unused AI grade is given back."""
    found = await attempt_with_version(db, attempt_id, lock=True)
    if found is None:
        return False
    if found[0].grading_status is not GradingStatus.PENDING:
        if found[0].grader_id is not None:
            await credits.refund_spend(db, found[0].user_id, spend_key(attempt_id), AUTHOR_FIRST_REASON)
        return False
    attempt, version, quiz = found
    attempt.grading_provider = graded.provider
    attempt.grading_model = graded.model
    attempt.grading_input_tokens = graded.input_tokens
    attempt.grading_output_tokens = graded.output_tokens
    session = await record_grade(db, attempt, version, quiz, graded.score, graded.feedback, utcnow())
    view = view_of(attempt, version, session)
    event = AttemptGraded.of(attempt, view.explanation, view.correct_answer, session)
    user_id = attempt.user_id
    after_commit(db, lambda: publish(graded_attempts_channel(user_id), event.payload()))
    return True


async def fail(db: AsyncSession, attempt_id: uuid.UUID, error: str) -> bool:
    """Sends the essay to its author's review with `error` and gives a spent credit back, once; False
    when it was not PENDING any more."""
    found = await attempt_with_version(db, attempt_id, lock=True)
    if found is None or found[0].grading_status is not GradingStatus.PENDING:
        return False
    attempt = found[0]
    _needs_review(attempt, error)
    await credits.refund_spend(db, attempt.user_id, spend_key(attempt.id), REFUND_REASON)
    return True


async def pending(db: AsyncSession, older_than: timedelta) -> list[uuid.UUID]:
    """Essays still PENDING `older_than` after they were answered."""
    statement = select(col(QuizAttempt.id)).where(
        col(QuizAttempt.grading_status) == GradingStatus.PENDING,
        col(QuizAttempt.answered_at) < utcnow() - older_than,
    )
    return list((await db.execute(statement)).scalars())


# What `graded_attempt_events` yields: the schema converts these, without importing broadcast/ itself.
AttemptGradedEvent: TypeAlias = AttemptGraded
GradedSessionEvent: TypeAlias = GradedSession


def graded_attempt_events(actor: Actor) -> AsyncIterator[AttemptGradedEvent]:
    """The signed-in user's essays as the AI grades them.

    The user is required here, before the stream subscribes to anything.
    """
    user = require_user(actor)
    return events_of(graded_attempts_channel(user.user_id), AttemptGraded)
