"""All tables, imported so that `SQLModel.metadata` is complete for Alembic and the tests."""

from models import (
    accounts,
    billing,
    classroom,
    notifications,
    personalization,
    quizzes,
    recordings,
    study,
    studyrooms,
)

__all__ = [
    "accounts",
    "billing",
    "classroom",
    "notifications",
    "personalization",
    "quizzes",
    "recordings",
    "study",
    "studyrooms",
]
