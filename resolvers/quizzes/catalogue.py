"""Reading quizzes: what a student may see of one (never its key), the list, and the serve record.

`QuizView` is the only way a quiz leaves the resolvers for the schema: it is built from the row here
and holds nothing of the answer key but the choices' ids and texts, the number of blanks and the two
sides of a matching quiz, the right side in an order that says nothing about the pairs.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.auth import Actor, require_user
from core.errors import NotFound
from core.pagination import Page, paginate
from models.base import utcnow
from models.quizzes import Quiz, QuizKey, QuizServe, QuizType
from models.study import Difficulty
from resolvers.quizzes.authoring import can_edit
from resolvers.quizzes.grading import blank_count


@dataclass(frozen=True)
class ChoiceView:
    id: str
    text: str


@dataclass(frozen=True)
class QuizView:
    id: uuid.UUID
    subject_id: uuid.UUID
    type: QuizType
    difficulty: Difficulty
    topic: str | None
    question: str
    choices: list[ChoiceView] | None
    blank_count: int | None
    match_left: list[str] | None
    match_right: list[str] | None
    hints: list[str]
    points: int
    estimated_seconds: int
    archived: bool


def _shuffled(quiz_id: uuid.UUID, values: list[str]) -> list[str]:
    """`values` in an order fixed for the quiz and independent of the key's order: sorted by a hash of
    the quiz's id and the text."""
    return sorted(values, key=lambda value: hashlib.sha256(f"{quiz_id}:{value}".encode()).digest())


def view_of(quiz: Quiz) -> QuizView:
    key = QuizKey.model_validate(quiz.key)
    pairs = key.pairs if quiz.type is QuizType.MATCHING else None
    return QuizView(
        id=quiz.id,
        subject_id=quiz.subject_id,
        type=quiz.type,
        difficulty=quiz.difficulty,
        topic=quiz.topic,
        question=quiz.question,
        choices=(
            [ChoiceView(choice.id, choice.text) for choice in key.choices or []]
            if quiz.type is QuizType.MULTIPLE_CHOICE
            else None
        ),
        blank_count=blank_count(quiz.question) if quiz.type is QuizType.FILL_BLANK else None,
        match_left=[pair.left for pair in pairs] if pairs is not None else None,
        match_right=_shuffled(quiz.id, [pair.right for pair in pairs]) if pairs is not None else None,
        hints=list(quiz.hints),
        points=quiz.points,
        estimated_seconds=quiz.estimated_seconds,
        archived=quiz.archived_at is not None,
    )


async def record_serve(db: AsyncSession, user_id: uuid.UUID, quiz_id: uuid.UUID, now: datetime) -> None:
    """Notes when the quiz was first served to the user since their last answer to it: serving it again
    does not restart the clock, so reloading a quiz never shortens the time it took."""
    statement = (
        insert(QuizServe)
        .values(user_id=user_id, quiz_id=quiz_id, served_at=now)
        .on_conflict_do_nothing(index_elements=[col(QuizServe.user_id), col(QuizServe.quiz_id)])
    )
    await db.execute(statement)


async def serve_quiz(
    db: AsyncSession, actor: Actor, quiz_id: uuid.UUID, *, now: datetime | None = None
) -> QuizView:
    """`quiz(id)`: a live quiz for anyone signed in (an archived one only for its author and admins),
    served: the user's time on it starts now."""
    user = require_user(actor)
    quiz = await db.get(Quiz, quiz_id)
    if quiz is None or (quiz.archived_at is not None and not can_edit(user, quiz)):
        raise NotFound("Quiz")
    if quiz.archived_at is None:
        await record_serve(db, user.user_id, quiz.id, now or utcnow())
    return view_of(quiz)


def _quizzes_statement(
    subject_id: uuid.UUID | None, difficulty: Difficulty | None, quiz_type: QuizType | None
) -> Select[Quiz]:
    statement = select(Quiz).where(col(Quiz.archived_at).is_(None))
    if subject_id is not None:
        statement = statement.where(col(Quiz.subject_id) == subject_id)
    if difficulty is not None:
        statement = statement.where(col(Quiz.difficulty) == difficulty)
    if quiz_type is not None:
        statement = statement.where(col(Quiz.type) == quiz_type)
    return statement


async def list_quizzes(
    db: AsyncSession,
    actor: Actor,
    *,
    subject_id: uuid.UUID | None,
    difficulty: Difficulty | None,
    quiz_type: QuizType | None,
    first: int | None,
    after: str | None,
) -> Page[QuizView]:
    """Live quizzes, newest first. Listing is not serving: no clock starts."""
    require_user(actor)
    page = await paginate(
        db,
        _quizzes_statement(subject_id, difficulty, quiz_type),
        [col(Quiz.created_at), col(Quiz.id)],
        first=first,
        after=after,
    )
    return Page(
        items=[(cursor, view_of(quiz)) for cursor, quiz in page.items], has_next_page=page.has_next_page
    )
