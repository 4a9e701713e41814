"""Answers: `submitAnswer` grades objective types at once and leaves essays PENDING for the grading job
(`essays`); `gradeAttempt` lets the quiz's author (or an admin) grade an essay; `attempt` shows one to
the student who answered it and to the quiz's author.

The time an answer took is measured here, from when the quiz was served to the user (`quiz_serves`) to
when the answer arrived; clients send no time. An attempt is graded against the version of the quiz it
answered, so later edits change nothing about it.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, require_user
from core.errors import BadInput, Conflict, Forbidden, NotFound
from core.jobs import enqueue_after_commit
from models.base import utcnow
from models.quizzes import (
    ANSWER_LENGTH,
    ESSAY_LENGTH,
    FEEDBACK_LENGTH,
    Answer,
    GradingStatus,
    KeyPair,
    Quiz,
    QuizAttempt,
    QuizCard,
    QuizContent,
    QuizKey,
    QuizServe,
    QuizSession,
    QuizType,
    QuizVersion,
)
from models.study import ActivityKind
from resolvers import notifications
from resolvers.personalization.abilities import count_graded_answer
from resolvers.quizzes import review, sessions
from resolvers.quizzes.authoring import MAX_CHOICES, MAX_PAIRS
from resolvers.quizzes.grading import correct_answer, grade, points_earned
from resolvers.study.activity import record_activity

# More blanks than any question could hold is not an answer.
MAX_BLANKS = 100
GRADE_ESSAY_JOB = "quiz.grade_essay"


@dataclass(frozen=True)
class AttemptView:
    """An attempt with what its result shows of the quiz version it answered; `session` only for the
    student who answered."""

    attempt: QuizAttempt
    explanation: str | None
    correct_answer: str | None
    session: QuizSession | None


def view_of(attempt: QuizAttempt, content: QuizContent, session: QuizSession | None) -> AttemptView:
    return AttemptView(
        attempt=attempt,
        explanation=content.explanation,
        correct_answer=correct_answer(content.type, QuizKey.model_validate(content.key)),
        session=session,
    )


def clean_answer(quiz_type: QuizType, answer: Answer) -> Answer:
    """The answer with its texts cleaned and its lists bounded, as it will be stored."""

    def cleaned(value: str, field: str, max_length: int, *, multi_line: bool = False) -> str:
        return text.clean(value, field, max_length=max_length, multi_line=multi_line) or ""

    def bounded(values: Sequence[object] | None, most: int, field: str) -> None:
        if values is not None and len(values) > most:
            raise BadInput(f"{field} holds at most {most} items", field=field)

    bounded(answer.choice_ids, MAX_CHOICES, "answer.choiceIds")
    bounded(answer.blanks, MAX_BLANKS, "answer.blanks")
    bounded(answer.pairs, MAX_PAIRS, "answer.pairs")
    essay = quiz_type is QuizType.ESSAY
    return Answer(
        choice_ids=answer.choice_ids,
        boolean=answer.boolean,
        text=(
            None
            if answer.text is None
            else cleaned(
                answer.text, "answer.text", ESSAY_LENGTH if essay else ANSWER_LENGTH, multi_line=essay
            )
        ),
        blanks=None
        if answer.blanks is None
        else [cleaned(b, "answer.blanks", ANSWER_LENGTH) for b in answer.blanks],
        pairs=(
            None
            if answer.pairs is None
            else [
                KeyPair(
                    left=cleaned(p.left, "answer.pairs", ANSWER_LENGTH),
                    right=cleaned(p.right, "answer.pairs", ANSWER_LENGTH),
                )
                for p in answer.pairs
            ]
        ),
    )


async def _quiz_serve_and_card(
    db: AsyncSession, user_id: uuid.UUID, quiz_id: uuid.UUID
) -> tuple[Quiz | None, datetime | None, review.StoredCard]:
    """In one statement: the quiz, when it was served to the user (consuming the serve: the next answer
    needs a new one) and the user's card for it (read without a lock; see `review.review`)."""
    serve = (
        delete(QuizServe)
        .where(col(QuizServe.user_id) == user_id, col(QuizServe.quiz_id) == quiz_id)
        .returning(col(QuizServe.served_at))
        .cte("serve")
    )
    statement = (
        select(Quiz, select(serve.c.served_at).scalar_subquery(), col(QuizCard.card), col(QuizCard.reviews))
        .outerjoin(QuizCard, (col(QuizCard.quiz_id) == col(Quiz.id)) & (col(QuizCard.user_id) == user_id))
        .where(col(Quiz.id) == quiz_id)
    )
    row = (await db.execute(statement)).first()
    if row is None:
        return None, None, review.NO_CARD
    quiz, served_at, card, reviews = row
    return quiz, served_at, review.StoredCard(card=card, reviews=reviews or 0)


async def submit_answer(
    db: AsyncSession,
    actor: Actor,
    quiz_id: uuid.UUID,
    answer: Answer,
    session_id: uuid.UUID | None,
    *,
    now: datetime | None = None,
) -> AttemptView:
    user = require_user(actor)
    moment = now or utcnow()
    quiz, served_at, card = await _quiz_serve_and_card(db, user.user_id, quiz_id)
    if quiz is None or quiz.archived_at is not None:
        raise NotFound("Quiz")
    # Whatever is refused from here on rolls the transaction back, the serve with it.
    answer = clean_answer(quiz.type, answer)
    score = grade(quiz.type, QuizKey.model_validate(quiz.key), answer)
    session = None if session_id is None else await sessions.session_for_answer(db, actor, session_id, quiz)
    attempt = QuizAttempt(
        user_id=user.user_id,
        quiz_id=quiz.id,
        quiz_version=quiz.version,
        quiz_session_id=session_id,
        answer=answer.stored(),
        grading_status=GradingStatus.PENDING if score is None else GradingStatus.GRADED,
        score=None if score is None else float(score),
        points_earned=None if score is None else points_earned(quiz.points, score),
        served_at=served_at,
        answered_at=moment,
        time_spent_seconds=None if served_at is None else max(0, int((moment - served_at).total_seconds())),
        graded_at=None if score is None else moment,
    )
    if quiz.type is QuizType.ESSAY:
        _await_essay_grade(db, attempt)
    db.add(attempt)
    if score is not None:
        await review.review(db, user.user_id, quiz.id, float(score), moment, card)
        await _count_in_progress(db, attempt, quiz, float(score), moment)
    if session is not None:
        sessions.count_answer(session, None if score is None else float(score), moment)
    await db.flush()
    return view_of(attempt, quiz, session)


def grade_essay_job_id(attempt_id: uuid.UUID) -> str:
    return f"{GRADE_ESSAY_JOB}:{attempt_id}"


def _await_essay_grade(db: AsyncSession, attempt: QuizAttempt) -> None:
    """An essay waits PENDING for the grading job, queued once the answer commits. The job grades it by
    AI or, without an AI provider, sends it to the quiz's author (`essays.start`): the one place that
    decides, so an essay answered just before the keys change is never stranded."""
    enqueue_after_commit(db, GRADE_ESSAY_JOB, str(attempt.id), job_id=grade_essay_job_id(attempt.id))


async def _count_in_progress(
    db: AsyncSession, attempt: QuizAttempt, quiz: Quiz, score: float, moment: datetime
) -> None:
    """A graded answer joins the student's study progress (answers, correct rate, mastery, streaks) and
    their ability estimates (personalization: level and mastery)."""
    await record_activity(
        db,
        user_id=attempt.user_id,
        subject_id=quiz.subject_id,
        kind=ActivityKind.QUIZ_ANSWERED,
        source_id=attempt.id,
        occurred_at=moment,
        topic=quiz.topic,
        score=score,
    )
    await count_graded_answer(
        db,
        user_id=attempt.user_id,
        subject_id=quiz.subject_id,
        topic=quiz.topic,
        difficulty=quiz.difficulty,
        score=score,
        now=moment,
    )


async def attempt_with_version(
    db: AsyncSession, attempt_id: uuid.UUID, *, lock: bool = False
) -> tuple[QuizAttempt, QuizVersion, Quiz] | None:
    """The attempt, the quiz version it answered and the quiz (its author, subject and topic as they are)."""
    statement = (
        select(QuizAttempt, QuizVersion, Quiz)
        .join(
            QuizVersion,
            (col(QuizVersion.quiz_id) == col(QuizAttempt.quiz_id))
            & (col(QuizVersion.version) == col(QuizAttempt.quiz_version)),
        )
        .join(Quiz, col(Quiz.id) == col(QuizAttempt.quiz_id))
        .where(col(QuizAttempt.id) == attempt_id)
    )
    if lock:
        statement = statement.with_for_update(of=QuizAttempt)
    row = (await db.execute(statement)).first()
    return None if row is None else (row[0], row[1], row[2])


async def get_attempt(db: AsyncSession, actor: Actor, attempt_id: uuid.UUID) -> AttemptView:
    """For the student who answered, the quiz's author and admins; NOT_FOUND for anyone else."""
    user = require_user(actor)
    found = await attempt_with_version(db, attempt_id)
    if found is None:
        raise NotFound("Attempt")
    attempt, version, quiz = found
    is_own = attempt.user_id == user.user_id
    if not (is_own or quiz.author_id == user.user_id or user.is_admin):
        raise NotFound("Attempt")
    session = None
    if is_own and attempt.quiz_session_id is not None:
        session = await db.get(QuizSession, attempt.quiz_session_id)
    return view_of(attempt, version, session)


async def grade_attempt(
    db: AsyncSession,
    actor: Actor,
    attempt_id: uuid.UUID,
    score: float,
    feedback: str | None,
    *,
    now: datetime | None = None,
) -> AttemptView:
    """The author's (or an admin's) grade for an answer waiting for one (PENDING or NEEDS_REVIEW)."""
    user = require_user(actor)
    if not 0 <= score <= 1:
        raise BadInput("score must be between 0 and 1", field="score")
    cleaned_feedback = text.clean(feedback, "feedback", max_length=FEEDBACK_LENGTH, multi_line=True)
    found = await attempt_with_version(db, attempt_id, lock=True)
    if found is None:
        raise NotFound("Attempt")
    attempt, version, quiz = found
    if quiz.author_id != user.user_id and not user.is_admin:
        if attempt.user_id == user.user_id:
            raise Forbidden("Only the quiz's author or an admin grades answers")
        raise NotFound("Attempt")
    if attempt.grading_status is GradingStatus.GRADED:
        raise Conflict("This answer is graded already")
    attempt.grader_id = user.user_id
    await record_grade(db, attempt, version, quiz, score, cleaned_feedback, now or utcnow())
    # The grader is not the student: the student's session is not theirs to see.
    return view_of(attempt, version, None)


def _shortened(question: str, length: int = 60) -> str:
    return question if len(question) <= length else question[: length - 1].rstrip() + "…"


async def record_grade(
    db: AsyncSession,
    attempt: QuizAttempt,
    version: QuizVersion,
    quiz: Quiz,
    score: float,
    feedback: str | None,
    moment: datetime,
) -> QuizSession | None:
    """Grades an answer that waited for it (by its author or by AI): GRADED, reviewed on the student's
    FSRS card, counted in their progress and in the session it was answered in, which is returned."""
    attempt.grading_status = GradingStatus.GRADED
    attempt.score = score
    attempt.points_earned = points_earned(version.points, Fraction(repr(score)))
    attempt.feedback = feedback
    attempt.graded_at = moment
    attempt.grading_error = None
    await review.review(db, attempt.user_id, attempt.quiz_id, score, moment)
    await _count_in_progress(db, attempt, quiz, score, moment)
    await notifications.notify(
        db,
        attempt.user_id,
        "essay_graded",
        variables={"title": quiz.topic or _shortened(version.question), "score": attempt.points_earned},
        dedupe_key=f"essay_graded:{attempt.id}",
        data={"attemptId": str(attempt.id), "quizId": str(quiz.id)},
    )
    session = None
    if attempt.quiz_session_id is not None:
        session = await db.get(QuizSession, attempt.quiz_session_id, with_for_update=True)
        if session is not None:
            sessions.count_grade(session, score)
    await db.flush()
    return session
