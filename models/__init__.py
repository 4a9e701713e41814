"""All tables, imported so that `SQLModel.metadata` is complete for Alembic and the tests."""

from models import accounts, notifications

__all__ = ["accounts", "notifications"]
