"""quiz AI: what a quiz-generation job was asked for, what it dropped and what the AI cost

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ai_jobs", sa.Column("requested_count", sa.Integer(), nullable=True))
    op.add_column("ai_jobs", sa.Column("dropped_count", sa.Integer(), nullable=True))
    op.add_column("ai_jobs", sa.Column("dropped_reasons", sa.JSON(), nullable=True))
    op.add_column("ai_jobs", sa.Column("provider", sa.String(length=32), nullable=True))
    op.add_column("ai_jobs", sa.Column("model", sa.String(length=100), nullable=True))
    op.add_column("ai_jobs", sa.Column("input_tokens", sa.Integer(), nullable=True))
    op.add_column("ai_jobs", sa.Column("output_tokens", sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in ("output_tokens", "input_tokens", "model", "provider"):
        op.drop_column("ai_jobs", column)
    op.drop_column("ai_jobs", "dropped_reasons")
    op.drop_column("ai_jobs", "dropped_count")
    op.drop_column("ai_jobs", "requested_count")
