"""help diagnosis: the participant's rating of the help they got

The AI diagnosis itself lives in the existing `help_requests.diagnosis` JSON (new optional keys), so it
needs no column.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("help_requests", sa.Column("rating", sa.Integer(), nullable=True))
    op.add_column("help_requests", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f("ck_help_requests_rating"), "help_requests", "rating BETWEEN 1 AND 5")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_help_requests_rating"), "help_requests", type_="check")
    op.drop_column("help_requests", "rated_at")
    op.drop_column("help_requests", "rating")
