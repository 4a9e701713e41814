"""Writing quizzes: `createQuiz` for instructors and admins, `updateQuiz` and `archiveQuiz` for the author
or an admin. Every type's shape is checked here, and every text cleaned, before anything is written."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import text
from core.auth import Actor, Role, UserActor, require_role, require_user
from core.errors import BadInput, Conflict, Forbidden, NotFound
from models.base import utcnow
from models.quizzes import (
    ANSWER_LENGTH,
    CHOICE_LENGTH,
    EXPLANATION_LENGTH,
    HINT_LENGTH,
    QUESTION_LENGTH,
    RUBRIC_LENGTH,
    TOPIC_LENGTH,
    KeyChoice,
    KeyPair,
    Quiz,
    QuizKey,
    QuizType,
    QuizVersion,
)
from models.study import Difficulty, Subject
from resolvers.quizzes.grading import blank_count, normalize

MIN_CHOICES, MAX_CHOICES = 2, 8
MAX_ACCEPTED_ANSWERS = 20
MIN_PAIRS, MAX_PAIRS = 2, 10
MAX_HINTS = 5
DEFAULT_POINTS = 10
MIN_POINTS, MAX_POINTS = 1, 1000
MIN_SECONDS, MAX_SECONDS = 5, 7200
DEFAULT_SECONDS = {
    QuizType.MULTIPLE_CHOICE: 30,
    QuizType.TRUE_FALSE: 15,
    QuizType.SHORT_ANSWER: 45,
    QuizType.FILL_BLANK: 60,
    QuizType.MATCHING: 90,
    QuizType.ESSAY: 600,
}
# The key fields of the input, by the type that uses them (GraphQL names, for errors).
_KEY_FIELDS = {
    "choices": QuizType.MULTIPLE_CHOICE,
    "answerBoolean": QuizType.TRUE_FALSE,
    "acceptedAnswers": QuizType.SHORT_ANSWER,
    "blankAnswers": QuizType.FILL_BLANK,
    "pairs": QuizType.MATCHING,
    "rubric": QuizType.ESSAY,
}


@dataclass(frozen=True)
class ChoiceDraft:
    text: str
    correct: bool


@dataclass(frozen=True)
class QuizDraft:
    """What an author sends (`QuizInput`); only the key field of the quiz's type may be given."""

    subject_id: uuid.UUID
    type: QuizType
    difficulty: Difficulty
    question: str
    topic: str | None = None
    choices: Sequence[ChoiceDraft] | None = None
    answer_boolean: bool | None = None
    accepted_answers: Sequence[str] | None = None
    blank_answers: Sequence[Sequence[str]] | None = None
    pairs: Sequence[KeyPair] | None = None
    rubric: str | None = None
    explanation: str | None = None
    hints: Sequence[str] | None = None
    points: int | None = None
    estimated_seconds: int | None = None

    def given_key_fields(self) -> list[str]:
        values = {
            "choices": self.choices,
            "answerBoolean": self.answer_boolean,
            "acceptedAnswers": self.accepted_answers,
            "blankAnswers": self.blank_answers,
            "pairs": self.pairs,
            "rubric": self.rubric,
        }
        return [field for field, value in values.items() if value is not None]


def _required(value: str, field: str, max_length: int, *, multi_line: bool = False) -> str:
    cleaned = text.clean(value, field, max_length=max_length, required=True, multi_line=multi_line)
    assert cleaned is not None
    return cleaned


def _answer_text(value: str, field: str) -> str:
    """An accepted answer: cleaned, and something is left once normalised (an answer of only punctuation
    would accept an answer of other punctuation)."""
    cleaned = _required(value, field, ANSWER_LENGTH)
    if not normalize(cleaned):
        raise BadInput(f"{field} needs letters or digits", field=field)
    return cleaned


def _answer_list(values: Sequence[str], field: str) -> list[str]:
    if not 1 <= len(values) <= MAX_ACCEPTED_ANSWERS:
        raise BadInput(f"{field} needs 1 to {MAX_ACCEPTED_ANSWERS} accepted answers", field=field)
    return [_answer_text(value, field) for value in values]


def _unique(values: Sequence[str], field: str, what: str) -> None:
    normalized = [normalize(value) for value in values]
    if len(set(normalized)) != len(normalized):
        raise BadInput(f"{what} must differ from each other", field=field)


def _choices(drafts: Sequence[ChoiceDraft], previous: QuizKey | None) -> list[KeyChoice]:
    if not MIN_CHOICES <= len(drafts) <= MAX_CHOICES:
        raise BadInput(f"A quiz has {MIN_CHOICES} to {MAX_CHOICES} choices", field="choices")
    texts = [_required(draft.text, "choices", CHOICE_LENGTH) for draft in drafts]
    _unique(texts, "choices", "Choices")
    if not any(draft.correct for draft in drafts):
        raise BadInput("At least one choice is correct", field="choices")
    # A choice keeps its id across edits while its text stays, so answers' choice ids keep meaning it.
    kept = {normalize(choice.text): choice.id for choice in (previous.choices or [])} if previous else {}
    return [
        KeyChoice(
            id=kept.get(normalize(choice_text)) or uuid.uuid4().hex[:12],
            text=choice_text,
            correct=draft.correct,
        )
        for choice_text, draft in zip(texts, drafts, strict=True)
    ]


def _pairs(drafts: Sequence[KeyPair]) -> list[KeyPair]:
    if not MIN_PAIRS <= len(drafts) <= MAX_PAIRS:
        raise BadInput(f"A matching quiz has {MIN_PAIRS} to {MAX_PAIRS} pairs", field="pairs")
    pairs = [
        KeyPair(left=_answer_text(pair.left, "pairs"), right=_answer_text(pair.right, "pairs"))
        for pair in drafts
    ]
    _unique([pair.left for pair in pairs], "pairs", "Left sides")
    _unique([pair.right for pair in pairs], "pairs", "Right sides")
    return pairs


def _key(draft: QuizDraft, question: str, previous: QuizKey | None) -> QuizKey:
    for field in draft.given_key_fields():
        if _KEY_FIELDS[field] is not draft.type:
            raise BadInput(f"A {draft.type.value} quiz has no {field}", field=field)
    match draft.type:
        case QuizType.MULTIPLE_CHOICE:
            return QuizKey(choices=_choices(draft.choices or [], previous))
        case QuizType.TRUE_FALSE:
            if draft.answer_boolean is None:
                raise BadInput("A TRUE_FALSE quiz needs answerBoolean", field="answerBoolean")
            return QuizKey(answer_boolean=draft.answer_boolean)
        case QuizType.SHORT_ANSWER:
            return QuizKey(accepted_answers=_answer_list(draft.accepted_answers or [], "acceptedAnswers"))
        case QuizType.FILL_BLANK:
            blanks = blank_count(question)
            given = draft.blank_answers or []
            if blanks == 0:
                raise BadInput("A FILL_BLANK question marks its blanks with ___", field="question")
            if len(given) != blanks:
                raise BadInput(
                    f"The question has {blanks} blanks: give accepted answers for each", field="blankAnswers"
                )
            return QuizKey(blank_answers=[_answer_list(answers, "blankAnswers") for answers in given])
        case QuizType.MATCHING:
            return QuizKey(pairs=_pairs(draft.pairs or []))
        case QuizType.ESSAY:
            rubric = text.clean(draft.rubric, "rubric", max_length=RUBRIC_LENGTH, multi_line=True)
            if rubric is None:
                raise BadInput("An ESSAY quiz needs a rubric", field="rubric")
            return QuizKey(rubric=rubric)


def _bounded(value: int | None, default: int, low: int, high: int, field: str) -> int:
    if value is None:
        return default
    if not low <= value <= high:
        raise BadInput(f"{field} must be between {low} and {high}", field=field)
    return value


def _content(draft: QuizDraft, previous: QuizKey | None) -> dict[str, Any]:
    """The quiz's columns from the draft, every value checked and cleaned; BadInput naming the field."""
    question = _required(draft.question, "question", QUESTION_LENGTH, multi_line=True)
    if len(draft.hints or []) > MAX_HINTS:
        raise BadInput(f"A quiz has at most {MAX_HINTS} hints", field="hints")
    hints = [_required(hint, "hints", HINT_LENGTH) for hint in draft.hints or []]
    return {
        "subject_id": draft.subject_id,
        "type": draft.type,
        "difficulty": draft.difficulty,
        "question": question,
        "key": _key(draft, question, previous).stored(),
        "topic": text.clean(draft.topic, "topic", max_length=TOPIC_LENGTH, collapse_spaces=True),
        "explanation": text.clean(
            draft.explanation, "explanation", max_length=EXPLANATION_LENGTH, multi_line=True
        ),
        "hints": hints,
        "points": _bounded(draft.points, DEFAULT_POINTS, MIN_POINTS, MAX_POINTS, "points"),
        "estimated_seconds": _bounded(
            draft.estimated_seconds, DEFAULT_SECONDS[draft.type], MIN_SECONDS, MAX_SECONDS, "estimatedSeconds"
        ),
    }


async def _require_subject(db: AsyncSession, subject_id: uuid.UUID) -> None:
    if await db.get(Subject, subject_id) is None:
        raise NotFound("Subject")


def _version_of(quiz: Quiz) -> QuizVersion:
    return QuizVersion(
        quiz_id=quiz.id,
        version=quiz.version,
        type=quiz.type,
        question=quiz.question,
        key=quiz.key,
        explanation=quiz.explanation,
        points=quiz.points,
    )


def new_quiz(draft: QuizDraft, author_id: uuid.UUID, *, ai_job_id: uuid.UUID | None = None) -> Quiz:
    """A quiz from the draft, every value checked and cleaned (BadInput naming the field); not stored.
    Its subject is the caller's to check."""
    return Quiz(author_id=author_id, ai_job_id=ai_job_id, **_content(draft, None))


async def store_new(db: AsyncSession, quizzes: Sequence[Quiz]) -> None:
    """Stores new quizzes with their first versions."""
    db.add_all(quizzes)
    await db.flush()
    db.add_all([_version_of(quiz) for quiz in quizzes])
    await db.flush()


async def create_quiz(db: AsyncSession, actor: Actor, draft: QuizDraft) -> Quiz:
    user = require_role(actor, Role.INSTRUCTOR)
    quiz = new_quiz(draft, user.user_id)
    await _require_subject(db, draft.subject_id)
    await store_new(db, [quiz])
    return quiz


def can_edit(user: UserActor, quiz: Quiz) -> bool:
    return user.is_admin or quiz.author_id == user.user_id


async def _editable(db: AsyncSession, actor: Actor, quiz_id: uuid.UUID) -> Quiz:
    user = require_user(actor)
    quiz = await db.get(Quiz, quiz_id, with_for_update=True)
    if quiz is None or (quiz.archived_at is not None and not can_edit(user, quiz)):
        raise NotFound("Quiz")
    if not can_edit(user, quiz):
        raise Forbidden("Only the quiz's author or an admin can change it")
    return quiz


async def update_quiz(db: AsyncSession, actor: Actor, quiz_id: uuid.UUID, draft: QuizDraft) -> Quiz:
    """Replaces the quiz's content as a new version; attempts keep the version they answered."""
    quiz = await _editable(db, actor, quiz_id)
    if quiz.archived_at is not None:
        raise Conflict("An archived quiz cannot be changed")
    values = _content(draft, QuizKey.model_validate(quiz.key))
    if draft.subject_id != quiz.subject_id:
        await _require_subject(db, draft.subject_id)
    for column, value in values.items():
        setattr(quiz, column, value)
    quiz.version += 1
    quiz.updated_at = utcnow()
    db.add(_version_of(quiz))
    await db.flush()
    return quiz


async def archive_quiz(db: AsyncSession, actor: Actor, quiz_id: uuid.UUID) -> Quiz:
    """Takes the quiz out of lists and sessions; its attempts stay. Archiving twice changes nothing."""
    quiz = await _editable(db, actor, quiz_id)
    if quiz.archived_at is None:
        quiz.archived_at = quiz.updated_at = utcnow()
        await db.flush()
    return quiz
