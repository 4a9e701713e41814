"""Spaced repetition and server-measured time, with a frozen clock passed to the resolvers."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fsrs import Rating
from sqlalchemy import select

from core.auth import Role, UserActor
from core.db import read_session, transaction
from models.quizzes import Answer, QuizCard, QuizSessionKind, QuizType
from models.study import Difficulty, Subject
from resolvers.quizzes import attempts, authoring, catalogue, review, sessions
from resolvers.quizzes.review import rating
from tests.helpers.factories import make_account
from tests.helpers.quizzes import make_subject

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def _true_false(author: UserActor, subject: Subject, question: str) -> uuid.UUID:
    draft = authoring.QuizDraft(
        subject_id=subject.id,
        type=QuizType.TRUE_FALSE,
        difficulty=Difficulty.MEDIUM,
        question=question,
        answer_boolean=True,
    )
    async with transaction() as db:
        return (await authoring.create_quiz(db, author, draft)).id


async def _answer(
    student: UserActor, quiz_id: uuid.UUID, right: bool, now: datetime, session_id: uuid.UUID | None = None
) -> attempts.AttemptView:
    async with transaction() as db:
        return await attempts.submit_answer(db, student, quiz_id, Answer(boolean=right), session_id, now=now)


async def _review_session(student: UserActor, subject: Subject) -> uuid.UUID:
    async with transaction() as db:
        return (await sessions.start_quiz_session(db, student, subject.id, QuizSessionKind.REVIEW, 10)).id


async def _next(student: UserActor, session_id: uuid.UUID, now: datetime) -> uuid.UUID | None:
    async with read_session() as db:
        view = await sessions.next_quiz(db, student, session_id, now=now)
    return None if view is None else view.id


async def _people() -> tuple[UserActor, UserActor]:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    return UserActor(author.user.id, Role.INSTRUCTOR), UserActor(student.user.id, Role.STUDENT)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (1.0, Rating.Good),
        (0.9, Rating.Good),
        (0.89, Rating.Hard),
        (0.6, Rating.Hard),
        (0.59, Rating.Again),
        (0.0, Rating.Again),
    ],
)
def test_a_score_is_a_review_rating(score: float, expected: Rating) -> None:
    assert rating(score) == expected


async def test_review_serves_due_cards_most_overdue_first() -> None:
    # Given three quizzes answered at known times: A wrong at 0 min, B right at 0 min, C wrong at 5 min
    author, student = await _people()
    subject = await make_subject()
    a = await _true_false(author, subject, "A?")
    b = await _true_false(author, subject, "B?")
    c = await _true_false(author, subject, "C?")
    await _answer(student, a, right=False, now=at(0))
    await _answer(student, b, right=True, now=at(0))
    await _answer(student, c, right=False, now=at(5))
    async with read_session() as db:
        due = {card.quiz_id: card.due for card in await db.scalars(select(QuizCard))}
    # (Again sends a new card back a minute, Good ten: fsrs' default learning steps)
    assert due == {a: at(1), b: at(10), c: at(6)}
    session = await _review_session(student, subject)
    # Then right after the answers nothing is due, a little later only A is, and later all in due order
    assert await _next(student, session, at(0.5)) is None
    assert await _next(student, session, at(2)) == a
    assert await _next(student, session, at(30)) == a
    await _answer(student, a, right=True, now=at(30), session_id=session)
    assert await _next(student, session, at(30)) == c
    await _answer(student, c, right=True, now=at(30), session_id=session)
    assert await _next(student, session, at(30)) == b


async def test_review_serves_only_the_users_own_live_cards_of_the_subject() -> None:
    # Given cards due for one student on two subjects, one of them on a quiz since archived
    author, student = await _people()
    _, other_student = await _people()
    subject = await make_subject()
    elsewhere = await make_subject("Chemistry")
    kept = await _true_false(author, subject, "Kept?")
    archived = await _true_false(author, subject, "Archived?")
    other_subject = await _true_false(author, elsewhere, "Elsewhere?")
    for quiz in (archived, other_subject, kept):
        await _answer(student, quiz, right=False, now=at(0))
    async with transaction() as db:
        await authoring.archive_quiz(db, author, archived)
    # When each student's review session asks what is due an hour later
    mine = await _review_session(student, subject)
    theirs = await _review_session(other_student, subject)
    # Then only the student's own live card of the subject is served, and nothing to the other student
    assert await _next(student, mine, at(60)) == kept
    assert await _next(other_student, theirs, at(60)) is None


async def test_time_spent_runs_from_the_first_serve_to_the_answer() -> None:
    # Given a quiz served at 0 s and served again at 10 s
    author, student = await _people()
    subject = await make_subject()
    quiz = await _true_false(author, subject, "Timed?")
    for seconds in (0, 10):
        async with read_session() as db:
            await catalogue.serve_quiz(db, student, quiz, now=T0 + timedelta(seconds=seconds))
    # When the answer arrives at 42 s
    result = await _answer(student, quiz, right=True, now=T0 + timedelta(seconds=42))
    # Then it took 42 seconds: serving again did not restart the clock
    assert (result.attempt.served_at, result.attempt.time_spent_seconds) == (T0, 42)


async def test_a_review_that_lands_between_the_read_and_the_write_is_not_lost() -> None:
    # Given a student's card read as "no card yet", then reviewed by another answer before the write
    author, student = await _people()
    subject = await make_subject()
    quiz = await _true_false(author, subject, "Raced?")
    await _answer(student, quiz, right=False, now=at(0))
    # When the write based on the stale read arrives
    async with transaction() as db:
        await review.review(db, student.user_id, quiz, 1.0, at(1), review.NO_CARD)
    # Then it was redone from the stored card: both reviews count
    async with read_session() as db:
        card = (await db.scalars(select(QuizCard))).one()
    assert (card.reviews, card.card["last_review"]) == (2, at(1).isoformat())
