"""Quizzes, their answer keys and versions, attempts, serves, quiz sessions and spaced-repetition cards.

A quiz's answer key (`QuizKey`) is stored beside the question and never leaves the server except inside
the result of an answer. Every edit bumps the quiz's `version` and stores the key as it now is in
`quiz_versions`; an attempt names the version it answered, so an edit never changes an existing grade.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, CheckConstraint, ForeignKeyConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import created_at_field, enum_type, id_field, timestamp_field
from models.study import Difficulty

QUESTION_LENGTH = 2000
TOPIC_LENGTH = 100
CHOICE_LENGTH = 500
ANSWER_LENGTH = 500
RUBRIC_LENGTH = 4000
EXPLANATION_LENGTH = 2000
HINT_LENGTH = 500
ESSAY_LENGTH = 20000
FEEDBACK_LENGTH = 4000
MIN_TARGET_QUESTIONS = 1
MAX_TARGET_QUESTIONS = 50


class QuizType(StrEnum):
    MULTIPLE_CHOICE = "MULTIPLE_CHOICE"
    TRUE_FALSE = "TRUE_FALSE"
    SHORT_ANSWER = "SHORT_ANSWER"
    FILL_BLANK = "FILL_BLANK"
    MATCHING = "MATCHING"
    ESSAY = "ESSAY"


class GradingStatus(StrEnum):
    GRADED = "GRADED"
    PENDING = "PENDING"
    NEEDS_REVIEW = "NEEDS_REVIEW"


class QuizSessionKind(StrEnum):
    PRACTICE = "PRACTICE"
    ADAPTIVE = "ADAPTIVE"
    REVIEW = "REVIEW"


class QuizSessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"


class KeyChoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Random and stable across edits of the same text, so an id says nothing about order or correctness.
    id: str
    text: str
    correct: bool


class KeyPair(BaseModel):
    model_config = ConfigDict(frozen=True)

    left: str
    right: str


class QuizKey(BaseModel):
    """A quiz's answer key, stored as snake_case JSON; only the fields of the quiz's type are set."""

    model_config = ConfigDict(frozen=True)

    choices: list[KeyChoice] | None = None
    answer_boolean: bool | None = None
    accepted_answers: list[str] | None = None
    blank_answers: list[list[str]] | None = None
    pairs: list[KeyPair] | None = None
    rubric: str | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Answer(BaseModel):
    """What a student answered, stored on the attempt; only the fields of the quiz's type are set."""

    model_config = ConfigDict(frozen=True)

    choice_ids: list[str] | None = None
    boolean: bool | None = None
    text: str | None = None
    blanks: list[str] | None = None
    pairs: list[KeyPair] | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class QuizContent(SQLModel):
    """What one version of a quiz says and expects; the quiz and each of its versions hold one."""

    type: QuizType = Field(sa_type=enum_type(QuizType))
    question: str = Field(sa_type=Text)
    # QuizKey.stored()
    key: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    explanation: str | None = Field(default=None, sa_type=Text)
    points: int = 10


class Quiz(QuizContent, table=True):
    __tablename__ = "quizzes"
    __table_args__ = (
        # The list of a subject's live quizzes, newest first.
        Index(
            "ix_quizzes_subject_id_live",
            "subject_id",
            "created_at",
            "id",
            postgresql_where=text("archived_at IS NULL"),
        ),
        CheckConstraint("points BETWEEN 1 AND 1000", name="points"),
    )

    id: uuid.UUID = id_field()
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", ondelete="CASCADE")
    author_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    difficulty: Difficulty = Field(sa_type=enum_type(Difficulty))
    topic: str | None = Field(default=None, max_length=TOPIC_LENGTH)
    hints: list[str] = Field(default_factory=list, sa_type=JSON)
    estimated_seconds: int
    version: int = 1
    # The quiz-generation job that wrote it (issue 12, item 5); None for quizzes an author wrote.
    ai_job_id: uuid.UUID | None = Field(default=None, index=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    archived_at: datetime | None = timestamp_field()


class QuizVersion(QuizContent, table=True):
    """A quiz as it was at one version: what attempts at that version are graded and explained by."""

    __tablename__ = "quiz_versions"

    quiz_id: uuid.UUID = Field(foreign_key="quizzes.id", primary_key=True, ondelete="CASCADE")
    version: int = Field(primary_key=True)
    created_at: datetime = created_at_field()


class QuizSession(SQLModel, table=True):
    __tablename__ = "quiz_sessions"
    __table_args__ = (
        CheckConstraint(
            f"target_questions BETWEEN {MIN_TARGET_QUESTIONS} AND {MAX_TARGET_QUESTIONS}",
            name="target_questions",
        ),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", ondelete="CASCADE")
    kind: QuizSessionKind = Field(sa_type=enum_type(QuizSessionKind))
    status: QuizSessionStatus = Field(default=QuizSessionStatus.ACTIVE, sa_type=enum_type(QuizSessionStatus))
    current_difficulty: Difficulty = Field(sa_type=enum_type(Difficulty))
    target_questions: int
    answered: int = 0
    correct: int = 0
    # ADAPTIVE: the scores graded since the difficulty last moved, the newest last (at most 5).
    recent_scores: list[float] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = created_at_field()
    completed_at: datetime | None = timestamp_field()


class QuizAttempt(SQLModel, table=True):
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["quiz_id", "quiz_version"],
            ["quiz_versions.quiz_id", "quiz_versions.version"],
            name="fk_quiz_attempts_quiz_id_quiz_versions",
            ondelete="CASCADE",
        ),
        Index("ix_quiz_attempts_user_id_quiz_id", "user_id", "quiz_id"),
        Index("ix_quiz_attempts_quiz_session_id", "quiz_session_id"),
        # The essay-grading worker's queue, and the authors' "to review" list.
        Index(
            "ix_quiz_attempts_ungraded",
            "grading_status",
            "answered_at",
            postgresql_where=text("grading_status <> 'GRADED'"),
        ),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    quiz_id: uuid.UUID
    quiz_version: int
    quiz_session_id: uuid.UUID | None = Field(
        default=None, foreign_key="quiz_sessions.id", ondelete="SET NULL"
    )
    # Answer.stored()
    answer: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    grading_status: GradingStatus = Field(sa_type=enum_type(GradingStatus))
    # 0 to 1; None until graded.
    score: float | None = None
    points_earned: int | None = None
    feedback: str | None = Field(default=None, sa_type=Text)
    served_at: datetime | None = timestamp_field()
    answered_at: datetime = created_at_field()
    time_spent_seconds: int | None = None
    graded_at: datetime | None = timestamp_field()
    # Who graded an attempt by hand (`gradeAttempt`); None for automatic and AI grading.
    grader_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # An AI grade's provenance (essay grading): the provider, the model and the token counts.
    grading_provider: str | None = Field(default=None, max_length=32)
    grading_model: str | None = Field(default=None, max_length=120)
    grading_input_tokens: int | None = None
    grading_output_tokens: int | None = None
    grading_error: str | None = Field(default=None, max_length=500)


class QuizServe(SQLModel, table=True):
    """When a quiz was first served to a user and not answered since: where server-measured time starts."""

    __tablename__ = "quiz_serves"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    quiz_id: uuid.UUID = Field(foreign_key="quizzes.id", primary_key=True, ondelete="CASCADE")
    served_at: datetime = created_at_field()


class QuizCard(SQLModel, table=True):
    """One user's FSRS card for one quiz; every graded attempt reviews it."""

    __tablename__ = "quiz_cards"
    __table_args__ = (Index("ix_quiz_cards_user_id_due", "user_id", "due"),)

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    quiz_id: uuid.UUID = Field(foreign_key="quizzes.id", primary_key=True, ondelete="CASCADE")
    # fsrs.Card.to_dict()
    card: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    due: datetime = created_at_field()
    reviews: int = 0
    updated_at: datetime = created_at_field()
