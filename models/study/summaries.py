"""AI-written study summaries, and the AI jobs that write them (and, later, generate quizzes).

An `AiJob` is what a user paid one credit for: QUEUED when the request commits, RUNNING while the worker
asks the AI, then DONE with its result or FAILED with a readable error (and the credit refunded).
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from models.base import created_at_field, enum_type, id_field, timestamp_field
from models.study.subjects import LANGUAGE_LENGTH, Difficulty, SummaryLength

TOPIC_LENGTH = 200
SUMMARY_TITLE_LENGTH = 200
SUMMARY_CONTENT_LENGTH = 20_000
JOB_ERROR_LENGTH = 500
MIN_RATING = 1
MAX_RATING = 5


class AiJobKind(StrEnum):
    SUMMARY = "SUMMARY"
    QUIZ_GENERATION = "QUIZ_GENERATION"


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


FINISHED_STATUSES = (JobStatus.DONE, JobStatus.FAILED)


class StudySummary(SQLModel, table=True):
    __tablename__ = "study_summaries"
    __table_args__ = (
        CheckConstraint(f"rating BETWEEN {MIN_RATING} AND {MAX_RATING}", name="rating"),
        # `summaries` lists a user's own, newest first (the keyset order of the connection).
        Index("ix_study_summaries_user_id_created_at", "user_id", "created_at", "id"),
        # `Subject.averageRating` groups the rated summaries of a batch of subjects.
        Index(
            "ix_study_summaries_subject_id_rated",
            "subject_id",
            "rating",
            postgresql_where=text("rating IS NOT NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", ondelete="CASCADE")
    topic: str | None = Field(default=None, max_length=TOPIC_LENGTH)
    title: str = Field(max_length=SUMMARY_TITLE_LENGTH)
    content: str = Field(sa_column=Column(Text(), nullable=False))
    # What the summary was written for: the user's study settings when it was requested.
    difficulty: Difficulty = Field(sa_type=enum_type(Difficulty))
    language: str = Field(max_length=LANGUAGE_LENGTH)
    length: SummaryLength = Field(sa_type=enum_type(SummaryLength))
    provider: str = Field(max_length=32)
    model: str = Field(max_length=100)
    input_tokens: int
    output_tokens: int
    created_at: datetime = created_at_field()
    read_at: datetime | None = timestamp_field()
    rating: int | None = None
    bookmarked: bool = False


class AiJob(SQLModel, table=True):
    __tablename__ = "ai_jobs"
    __table_args__ = (Index("ix_ai_jobs_user_id_created_at", "user_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    kind: AiJobKind = Field(sa_type=enum_type(AiJobKind))
    status: JobStatus = Field(default=JobStatus.QUEUED, sa_type=enum_type(JobStatus))
    error: str | None = Field(default=None, max_length=JOB_ERROR_LENGTH)
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", ondelete="CASCADE", index=True)
    topic: str | None = Field(default=None, max_length=TOPIC_LENGTH)
    created_at: datetime = created_at_field()
    started_at: datetime | None = timestamp_field()
    finished_at: datetime | None = timestamp_field()
    # The result of a DONE SUMMARY job; QUIZ_GENERATION jobs point at their quizzes from the quizzes' side.
    summary_id: uuid.UUID | None = Field(
        default=None, foreign_key="study_summaries.id", ondelete="SET NULL", unique=True
    )
    # QUIZ_GENERATION: how many quizzes were asked for, and of the AI's answer how many were dropped as
    # invalid and why (one reason per dropped quiz, as `createQuiz` would have refused it).
    requested_count: int | None = None
    dropped_count: int | None = None
    dropped_reasons: list[str] | None = Field(default=None, sa_type=JSON)
    # QUIZ_GENERATION: the AI's answer's provenance (a summary records its own).
    provider: str | None = Field(default=None, max_length=32)
    model: str | None = Field(default=None, max_length=100)
    input_tokens: int | None = None
    output_tokens: int | None = None
