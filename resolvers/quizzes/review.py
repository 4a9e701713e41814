"""Spaced repetition: one FSRS card per user and quiz, reviewed by every graded attempt.

The scheduler is PyPI `fsrs` with its default parameters. A score of at least 0.9 is a Good review, at
least 0.6 a Hard one, anything less Again. Times come from the caller, so tests can freeze the clock.
"""

import uuid
from datetime import UTC, datetime

from fsrs import Card, Rating, Scheduler
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.quizzes import QuizCard

SCHEDULER = Scheduler()


def rating(score: float) -> Rating:
    if score >= 0.9:
        return Rating.Good
    if score >= 0.6:
        return Rating.Hard
    return Rating.Again


def reviewed(card: Card | None, score: float, now: datetime) -> Card:
    """The card after a review with `score` at `now` (a new card when the user had none)."""
    moment = now.astimezone(UTC)
    # fsrs makes a card's id from the clock and sleeps a millisecond to keep ids apart; ours are keyed by
    # user and quiz, so the id only needs to exist.
    current = card or Card(card_id=int(moment.timestamp() * 1000), due=moment)
    after, _log = SCHEDULER.review_card(current, rating(score), review_datetime=moment)
    return after


async def review(
    db: AsyncSession, user_id: uuid.UUID, quiz_id: uuid.UUID, score: float, now: datetime
) -> None:
    """Reviews the user's card for the quiz (made on the first graded attempt) and stores it."""
    stored = (
        await db.execute(
            select(col(QuizCard.card))
            .where(col(QuizCard.user_id) == user_id, col(QuizCard.quiz_id) == quiz_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    card = reviewed(Card.from_dict(stored) if stored else None, score, now)
    values = {"card": card.to_dict(), "due": card.due, "updated_at": now}
    statement = (
        insert(QuizCard)
        .values(user_id=user_id, quiz_id=quiz_id, reviews=1, **values)
        .on_conflict_do_update(
            index_elements=[col(QuizCard.user_id), col(QuizCard.quiz_id)],
            set_={**values, "reviews": QuizCard.reviews + 1},
        )
    )
    await db.execute(statement)
