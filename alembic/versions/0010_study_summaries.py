"""study: AI summaries and the AI jobs that write them (one SUMMARY credit each)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "study_summaries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "difficulty",
            sa.Enum("EASY", "MEDIUM", "HARD", name="difficulty", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "length",
            sa.Enum("SHORT", "MEDIUM", "LONG", name="summarylength", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("bookmarked", sa.Boolean(), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_study_summaries_rating")),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_study_summaries_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_study_summaries_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_summaries")),
    )
    op.create_index(
        "ix_study_summaries_subject_id_rated",
        "study_summaries",
        ["subject_id", "rating"],
        unique=False,
        postgresql_where=sa.text("rating IS NOT NULL"),
    )
    op.create_index(
        "ix_study_summaries_user_id_created_at",
        "study_summaries",
        ["user_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "ai_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("SUMMARY", "QUIZ_GENERATION", name="aijobkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("QUEUED", "RUNNING", "DONE", "FAILED", name="jobstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_ai_jobs_subject_id_subjects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["summary_id"],
            ["study_summaries.id"],
            name=op.f("fk_ai_jobs_summary_id_study_summaries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_jobs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_jobs")),
        sa.UniqueConstraint("summary_id", name=op.f("uq_ai_jobs_summary_id")),
    )
    op.create_index(op.f("ix_ai_jobs_subject_id"), "ai_jobs", ["subject_id"], unique=False)
    op.create_index("ix_ai_jobs_user_id_created_at", "ai_jobs", ["user_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ai_jobs_user_id_created_at", table_name="ai_jobs")
    op.drop_index(op.f("ix_ai_jobs_subject_id"), table_name="ai_jobs")
    op.drop_table("ai_jobs")
    op.drop_index("ix_study_summaries_user_id_created_at", table_name="study_summaries")
    op.drop_index(
        "ix_study_summaries_subject_id_rated",
        table_name="study_summaries",
        postgresql_where=sa.text("rating IS NOT NULL"),
    )
    op.drop_table("study_summaries")
