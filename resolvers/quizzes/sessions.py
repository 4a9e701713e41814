"""Quiz sessions: PRACTICE, ADAPTIVE and REVIEW, what each serves next, and how answers move them.

- PRACTICE serves the subject's live quizzes the user has never answered, oldest first.
- ADAPTIVE starts at the user's level in the subject (personalization) once they have a graded answer
  in it, else at their study-settings difficulty, and serves quizzes not yet answered in the
  session, at the current difficulty first (then the nearest), those the user never answered first.
  Over the last 5 graded answers since the difficulty last moved, a mean score of at least 90 % moves
  it one level up and one below 60 % one level down.
- REVIEW serves the user's quizzes of the subject whose FSRS card is due, most overdue first.

A session is COMPLETED after `target_questions` answers; then nothing is served.
"""

import uuid
from datetime import datetime

from sqlalchemy import Exists, Select, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.auth import Actor, require_user
from core.errors import BadInput, Conflict, NotFound
from models.base import utcnow
from models.quizzes import (
    MAX_TARGET_QUESTIONS,
    MIN_TARGET_QUESTIONS,
    Quiz,
    QuizAttempt,
    QuizCard,
    QuizSession,
    QuizSessionKind,
    QuizSessionStatus,
)
from models.study import Difficulty
from resolvers.personalization.abilities import subject_level
from resolvers.quizzes.catalogue import QuizView, record_serve, view_of
from resolvers.study.settings import study_settings
from resolvers.study.subjects import get_subject

ADAPTIVE_WINDOW = 5
MOVE_UP_AT = 0.9
MOVE_DOWN_BELOW = 0.6
LEVELS = [Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD]
# Scores are fractions such as 1/3 stored as floats; a mean this close to a threshold counts as on it.
_TOLERANCE = 1e-9


async def start_quiz_session(
    db: AsyncSession, actor: Actor, subject_id: uuid.UUID, kind: QuizSessionKind, target_questions: int
) -> QuizSession:
    user = require_user(actor)
    if not MIN_TARGET_QUESTIONS <= target_questions <= MAX_TARGET_QUESTIONS:
        raise BadInput(
            f"targetQuestions must be between {MIN_TARGET_QUESTIONS} and {MAX_TARGET_QUESTIONS}",
            field="targetQuestions",
        )
    if kind is QuizSessionKind.ADAPTIVE:
        settings = await study_settings(db, actor, subject_id)
        difficulty = await subject_level(db, user.user_id, subject_id) or settings.difficulty
    else:
        difficulty = (await get_subject(db, actor, subject_id)).default_difficulty
    session = QuizSession(
        user_id=user.user_id,
        subject_id=subject_id,
        kind=kind,
        current_difficulty=difficulty,
        target_questions=target_questions,
    )
    db.add(session)
    await db.flush()
    return session


async def get_quiz_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> QuizSession:
    """The signed-in user's own session; anyone else's is NOT_FOUND."""
    user = require_user(actor)
    session = await db.get(QuizSession, session_id)
    if session is None or session.user_id != user.user_id:
        raise NotFound("QuizSession")
    return session


async def session_for_answer(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, quiz: Quiz
) -> QuizSession:
    """The session an answer counts in, locked until the answer is stored: it must be the user's own,
    still ACTIVE and about the quiz's subject."""
    user = require_user(actor)
    session = await db.get(QuizSession, session_id, with_for_update=True)
    if session is None or session.user_id != user.user_id:
        raise NotFound("QuizSession")
    if session.status is QuizSessionStatus.COMPLETED:
        raise Conflict("This quiz session is completed", field="quizSessionId")
    if session.subject_id != quiz.subject_id:
        raise BadInput("The quiz is not of this session's subject", field="quizSessionId")
    return session


def adapted(difficulty: Difficulty, recent_scores: list[float]) -> tuple[Difficulty, list[float]]:
    """The difficulty and the window of scores after a graded answer (its score last in `recent_scores`)."""
    window = recent_scores[-ADAPTIVE_WINDOW:]
    if len(window) < ADAPTIVE_WINDOW:
        return difficulty, window
    mean = sum(window) / len(window)
    level = LEVELS.index(difficulty)
    if mean >= MOVE_UP_AT - _TOLERANCE and level < len(LEVELS) - 1:
        return LEVELS[level + 1], []
    if mean < MOVE_DOWN_BELOW - _TOLERANCE and level > 0:
        return LEVELS[level - 1], []
    return difficulty, window


def count_answer(session: QuizSession, score: float | None, now: datetime) -> None:
    """One more answer in the session; `score` is None while the answer waits to be graded (an essay)."""
    session.answered += 1
    if score is not None:
        count_grade(session, score)
        if session.kind is QuizSessionKind.ADAPTIVE:
            session.current_difficulty, session.recent_scores = adapted(
                session.current_difficulty, [*session.recent_scores, score]
            )
    if session.answered >= session.target_questions:
        session.status = QuizSessionStatus.COMPLETED
        session.completed_at = now


def count_grade(session: QuizSession, score: float) -> None:
    if score == 1:
        session.correct += 1


def _live_quizzes_of(session: QuizSession) -> Select[Quiz]:
    return select(Quiz).where(col(Quiz.subject_id) == session.subject_id, col(Quiz.archived_at).is_(None))


def _answered_by(user_id: uuid.UUID) -> Exists:
    return exists().where(col(QuizAttempt.user_id) == user_id, col(QuizAttempt.quiz_id) == col(Quiz.id))


def _next_statement(session: QuizSession, now: datetime) -> Select[Quiz]:
    statement = _live_quizzes_of(session)
    if session.kind is QuizSessionKind.PRACTICE:
        return statement.where(~_answered_by(session.user_id)).order_by(col(Quiz.created_at), col(Quiz.id))
    if session.kind is QuizSessionKind.ADAPTIVE:
        in_session = exists().where(
            col(QuizAttempt.quiz_session_id) == session.id, col(QuizAttempt.quiz_id) == col(Quiz.id)
        )
        level = case({level.value: index for index, level in enumerate(LEVELS)}, value=col(Quiz.difficulty))
        distance = func.abs(level - LEVELS.index(session.current_difficulty))
        return statement.where(~in_session).order_by(
            distance, _answered_by(session.user_id), col(Quiz.created_at), col(Quiz.id)
        )
    return (
        statement.join(QuizCard, col(QuizCard.quiz_id) == col(Quiz.id))
        .where(col(QuizCard.user_id) == session.user_id, col(QuizCard.due) <= now)
        .order_by(col(QuizCard.due), col(Quiz.id))
    )


async def next_quiz(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, *, now: datetime | None = None
) -> QuizView | None:
    """What the session serves next (the user's time on it starts now), or None: the session is
    completed, or nothing is left to serve."""
    session = await get_quiz_session(db, actor, session_id)
    if session.status is QuizSessionStatus.COMPLETED:
        return None
    moment = now or utcnow()
    quiz = (await db.execute(_next_statement(session, moment).limit(1))).scalars().first()
    if quiz is None:
        return None
    await record_serve(db, session.user_id, quiz.id, moment)
    return view_of(quiz)
