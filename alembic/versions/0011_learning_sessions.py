"""study: learning sessions, with partial indexes on the open ones

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEARNING_SESSION_END = sa.Enum(
    "USER", "TIMEOUT", name="learningsessionend", native_enum=False, length=24, create_constraint=False
)


def upgrade() -> None:
    op.create_table(
        "learning_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", LEARNING_SESSION_END, nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("focus", sa.Float(), nullable=True),
        sa.Column("velocity", sa.Float(), nullable=True),
        sa.Column("efficiency", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_learning_sessions_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_learning_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_sessions")),
    )
    op.create_index(op.f("ix_learning_sessions_user_id"), "learning_sessions", ["user_id"], unique=False)
    op.create_index(
        op.f("ix_learning_sessions_subject_id"), "learning_sessions", ["subject_id"], unique=False
    )
    op.create_index(
        "ix_learning_sessions_open_started_at",
        "learning_sessions",
        ["started_at"],
        unique=False,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index(
        "uq_learning_sessions_open_user_subject",
        "learning_sessions",
        ["user_id", "subject_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_learning_sessions_open_user_subject", table_name="learning_sessions")
    op.drop_index("ix_learning_sessions_open_started_at", table_name="learning_sessions")
    op.drop_index(op.f("ix_learning_sessions_subject_id"), table_name="learning_sessions")
    op.drop_index(op.f("ix_learning_sessions_user_id"), table_name="learning_sessions")
    op.drop_table("learning_sessions")
