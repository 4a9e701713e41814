"""Learning sessions: one stretch of a student's study of one subject, timed by the server.

While a session is open its live analysis lives in Redis (resolvers/study/learning/store.py), so any api
process can serve it; the row keeps the start, the end and, once ended, the final figures.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from models.base import created_at_field, enum_type, id_field, timestamp_field


class LearningSessionEnd(StrEnum):
    USER = "USER"
    TIMEOUT = "TIMEOUT"


class LearningSession(SQLModel, table=True):
    __tablename__ = "learning_sessions"
    __table_args__ = (
        # The timeout cron's scan: open sessions by age, without reading the ended ones.
        Index(
            "ix_learning_sessions_open_started_at", "started_at", postgresql_where=text("ended_at IS NULL")
        ),
        # At most one open session per user and subject; concurrent starts lose on this index.
        Index(
            "uq_learning_sessions_open_user_subject",
            "user_id",
            "subject_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", ondelete="CASCADE", index=True)
    started_at: datetime = created_at_field()
    ended_at: datetime | None = timestamp_field()
    ended_by: LearningSessionEnd | None = Field(default=None, sa_type=enum_type(LearningSessionEnd))
    # The final figures, written when the session ends (null while it is open).
    duration_seconds: int | None = None
    focus: float | None = None
    velocity: float | None = None
    efficiency: float | None = None
