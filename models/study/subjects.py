"""Subjects, and each user's study settings per subject.

A subject's search text (name, description and tags) is one expression, `subject_search_text`, a SQL
function made by migration 0007 and indexed with a pg_trgm GIN index, so a case-insensitive substring
search is an index scan, not a sequential `ILIKE` over the catalogue.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel, col

from models.base import created_at_field, enum_type, id_field

SUBJECT_NAME_LENGTH = 200
SUBJECT_CATEGORY_LENGTH = 64
SUBJECT_DESCRIPTION_LENGTH = 2000
TAG_LENGTH = 40
MAX_TAGS = 20
LANGUAGE_LENGTH = 16
MIN_DAILY_GOAL_MINUTES = 5
MAX_DAILY_GOAL_MINUTES = 600


class Difficulty(StrEnum):
    # SPEC.md names the enum but not its members; three levels, so adaptive quizzes can move one up or down.
    EASY = "EASY"
    MEDIUM = "MEDIUM"
    HARD = "HARD"


class SummaryLength(StrEnum):
    SHORT = "SHORT"
    MEDIUM = "MEDIUM"
    LONG = "LONG"


class Subject(SQLModel, table=True):
    __tablename__ = "subjects"
    __table_args__ = (
        # Names are unique regardless of case; the stored spelling is the admin's own.
        Index(
            "uq_subjects_name_lower",
            func.lower(Column("name", String(SUBJECT_NAME_LENGTH))),
            unique=True,
        ),
        Index("ix_subjects_category_lower", func.lower(Column("category", String(SUBJECT_CATEGORY_LENGTH)))),
        Index(
            "ix_subjects_search_text",
            text("subject_search_text(name, description, tags) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=SUBJECT_NAME_LENGTH)
    category: str = Field(max_length=SUBJECT_CATEGORY_LENGTH)
    description: str | None = Field(default=None, max_length=SUBJECT_DESCRIPTION_LENGTH)
    default_difficulty: Difficulty = Field(default=Difficulty.MEDIUM, sa_type=enum_type(Difficulty))
    requires_premium: bool = False
    # Normalised by the resolvers: trimmed, lower-case, unique, at most MAX_TAGS of TAG_LENGTH characters.
    tags: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text()), nullable=False, server_default="{}"),
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


def subject_search_text() -> Any:
    """The expression the trigram index covers: lower-case name, description and tags in one text.

    A query must use this very expression (not `lower(name) LIKE …` per column) for Postgres to use it.
    """
    return func.subject_search_text(col(Subject.name), col(Subject.description), col(Subject.tags))


class StudySettings(SQLModel, table=True):
    """A user's choices for one subject; without a row, the defaults apply (resolvers.study.settings)."""

    __tablename__ = "study_settings"
    __table_args__ = (
        CheckConstraint(
            f"daily_goal_minutes BETWEEN {MIN_DAILY_GOAL_MINUTES} AND {MAX_DAILY_GOAL_MINUTES}",
            name="daily_goal_minutes",
        ),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", primary_key=True, ondelete="CASCADE", index=True)
    difficulty: Difficulty = Field(sa_type=enum_type(Difficulty))
    daily_goal_minutes: int
    summary_length: SummaryLength = Field(sa_type=enum_type(SummaryLength))
    language: str = Field(max_length=LANGUAGE_LENGTH)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
