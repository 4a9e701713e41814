"""Study activity and goals.

`study_activities` is an append-only log: each feature that counts towards progress (reading a
summary, answering a quiz, time spent in a learning session) records one row through
`resolvers.study.activity.record_activity`, and progress, streaks and goals are read from it alone, so
they need no change when a new source of activity lands. A source row is recorded at most once
(unique `kind`, `source_id`).
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, DateTime, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.base import created_at_field, enum_type, id_field, timestamp_field

ACTIVITY_TOPIC_LENGTH = 200
# Upper bound of each goal target: far above any real goal, and within GraphQL's 32-bit Int.
MAX_GOAL_TARGET = 100_000
# The longest window a goal may span (a CUSTOM goal of a year, leap day included).
MAX_GOAL_DAYS = 366


class ActivityKind(StrEnum):
    SUMMARY_READ = "SUMMARY_READ"
    QUIZ_ANSWERED = "QUIZ_ANSWERED"
    STUDY_TIME = "STUDY_TIME"


class StudyActivity(SQLModel, table=True):
    __tablename__ = "study_activities"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", name="uq_study_activities_kind_source_id"),
        Index("ix_study_activities_user_subject_occurred", "user_id", "subject_id", "occurred_at"),
        # For goals without a subject, which count the user's activity in every subject.
        Index("ix_study_activities_user_occurred", "user_id", "occurred_at"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 1)", name="score"),
        CheckConstraint("minutes >= 0", name="minutes"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", ondelete="CASCADE", index=True)
    kind: ActivityKind = Field(sa_type=enum_type(ActivityKind))
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))
    topic: str | None = Field(default=None, max_length=ACTIVITY_TOPIC_LENGTH)
    # A quiz answer's score, 0 (wrong) to 1 (right); partial credit in between.
    score: float | None = None
    # Minutes of study time; 0 for the other kinds.
    minutes: int = 0
    # The summary, quiz attempt or learning session the activity comes from.
    source_id: uuid.UUID
    created_at: datetime = created_at_field()


class GoalKind(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    CUSTOM = "CUSTOM"


class GoalStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ACHIEVED = "ACHIEVED"
    EXPIRED = "EXPIRED"
    ABANDONED = "ABANDONED"


class StudyGoal(SQLModel, table=True):
    """A target of summaries read, quizzes answered and/or study minutes between two local dates of the
    user (both included); without a subject, activity in every subject counts."""

    __tablename__ = "study_goals"
    __table_args__ = (
        CheckConstraint(
            "num_nonnulls(target_summaries, target_quizzes, target_minutes) >= 1", name="has_target"
        ),
        CheckConstraint(
            f"target_summaries BETWEEN 1 AND {MAX_GOAL_TARGET} AND target_quizzes BETWEEN 1 AND "
            f"{MAX_GOAL_TARGET} AND target_minutes BETWEEN 1 AND {MAX_GOAL_TARGET}",
            name="targets",
        ),
        CheckConstraint("ends_on >= starts_on", name="window"),
        Index("ix_study_goals_user_status", "user_id", "status"),
        # The expiry cron reads only the active goals, by end date.
        Index("ix_study_goals_active_ends_on", "ends_on", postgresql_where=text("status = 'ACTIVE'")),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    subject_id: uuid.UUID | None = Field(
        default=None, foreign_key="subjects.id", ondelete="CASCADE", index=True
    )
    kind: GoalKind = Field(sa_type=enum_type(GoalKind))
    status: GoalStatus = Field(default=GoalStatus.ACTIVE, sa_type=enum_type(GoalStatus))
    target_summaries: int | None = None
    target_quizzes: int | None = None
    target_minutes: int | None = None
    starts_on: date = Field(sa_type=Date())
    ends_on: date = Field(sa_type=Date())
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    # When the goal left ACTIVE (achieved, expired or abandoned).
    closed_at: datetime | None = timestamp_field()
