"""Spaced repetition: one FSRS card per user and quiz, reviewed by every graded attempt.

The scheduler is PyPI `fsrs` with its default parameters. A score of at least 0.9 is a Good review, at
least 0.6 a Hard one, anything less Again. Times come from the caller, so tests can freeze the clock.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from fsrs import Card, Rating, Scheduler
from fsrs.card import CardDict
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


@dataclass(frozen=True)
class StoredCard:
    """A user's card for a quiz as read, and how many reviews it had then (0 and None: no card yet)."""

    card: dict[str, Any] | None
    reviews: int


NO_CARD = StoredCard(card=None, reviews=0)
# Tries of the guarded write before giving up; each retry follows a locked read, so a second try only
# happens when a first card was inserted concurrently.
_WRITE_TRIES = 3


async def locked_card(db: AsyncSession, user_id: uuid.UUID, quiz_id: uuid.UUID) -> StoredCard:
    row = (
        await db.execute(
            select(col(QuizCard.card), col(QuizCard.reviews))
            .where(col(QuizCard.user_id) == user_id, col(QuizCard.quiz_id) == quiz_id)
            .with_for_update()
        )
    ).first()
    return NO_CARD if row is None else StoredCard(card=row[0], reviews=row[1])


async def _store_if_unchanged(
    db: AsyncSession, user_id: uuid.UUID, quiz_id: uuid.UUID, seen: StoredCard, card: Card, now: datetime
) -> bool:
    """Writes the reviewed card unless someone reviewed it since `seen` was read; True when written."""
    values = {"card": card.to_dict(), "due": card.due, "reviews": seen.reviews + 1, "updated_at": now}
    statement = (
        insert(QuizCard)
        .values(user_id=user_id, quiz_id=quiz_id, **values)
        .on_conflict_do_update(
            index_elements=[col(QuizCard.user_id), col(QuizCard.quiz_id)],
            set_=values,
            where=col(QuizCard.reviews) == seen.reviews,
        )
        .returning(col(QuizCard.reviews))
    )
    return (await db.execute(statement)).first() is not None


async def review(
    db: AsyncSession,
    user_id: uuid.UUID,
    quiz_id: uuid.UUID,
    score: float,
    now: datetime,
    seen: StoredCard | None = None,
) -> None:
    """Reviews the user's card for the quiz (made on the first graded attempt) and stores it.

    `seen` is the card as the caller read it earlier in the transaction, without a lock: it is written
    over only if its review count is still the same (one statement, the common case). Otherwise, and
    without `seen`, the card is read under a lock and reviewed from there, so no review is ever lost.
    """
    current = seen or await locked_card(db, user_id, quiz_id)
    for _ in range(_WRITE_TRIES):
        card = reviewed(Card.from_dict(cast("CardDict", current.card)) if current.card else None, score, now)
        if await _store_if_unchanged(db, user_id, quiz_id, current, card, now):
            return
        current = await locked_card(db, user_id, quiz_id)
    raise RuntimeError(f"card of user {user_id} for quiz {quiz_id} kept changing under a lock")
