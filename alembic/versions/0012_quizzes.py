"""quizzes: versioned answer keys, attempts, serves, quiz sessions and FSRS cards

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quiz_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("PRACTICE", "ADAPTIVE", "REVIEW", name="quizsessionkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("ACTIVE", "COMPLETED", name="quizsessionstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "current_difficulty",
            sa.Enum("EASY", "MEDIUM", "HARD", name="difficulty", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("target_questions", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("recent_scores", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "target_questions BETWEEN 1 AND 50", name=op.f("ck_quiz_sessions_target_questions")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_quiz_sessions_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_quiz_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_sessions")),
    )
    op.create_index(op.f("ix_quiz_sessions_user_id"), "quiz_sessions", ["user_id"], unique=False)
    op.create_table(
        "quizzes",
        sa.Column(
            "type",
            sa.Enum(
                "MULTIPLE_CHOICE",
                "TRUE_FALSE",
                "SHORT_ANSWER",
                "FILL_BLANK",
                "MATCHING",
                "ESSAY",
                name="quiztype",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("key", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column(
            "difficulty",
            sa.Enum("EASY", "MEDIUM", "HARD", name="difficulty", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("hints", sa.JSON(), nullable=False),
        sa.Column("estimated_seconds", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ai_job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("points BETWEEN 1 AND 1000", name=op.f("ck_quizzes_points")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_quizzes_author_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_quizzes_subject_id_subjects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quizzes")),
    )
    op.create_index(op.f("ix_quizzes_ai_job_id"), "quizzes", ["ai_job_id"], unique=False)
    op.create_index(op.f("ix_quizzes_author_id"), "quizzes", ["author_id"], unique=False)
    op.create_index(
        "ix_quizzes_subject_id_live",
        "quizzes",
        ["subject_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_table(
        "quiz_cards",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("quiz_id", sa.Uuid(), nullable=False),
        sa.Column("card", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_cards_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_quiz_cards_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "quiz_id", name=op.f("pk_quiz_cards")),
    )
    op.create_index("ix_quiz_cards_user_id_due", "quiz_cards", ["user_id", "due"], unique=False)
    op.create_table(
        "quiz_serves",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("quiz_id", sa.Uuid(), nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_serves_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_quiz_serves_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "quiz_id", name=op.f("pk_quiz_serves")),
    )
    op.create_table(
        "quiz_versions",
        sa.Column(
            "type",
            sa.Enum(
                "MULTIPLE_CHOICE",
                "TRUE_FALSE",
                "SHORT_ANSWER",
                "FILL_BLANK",
                "MATCHING",
                "ESSAY",
                name="quiztype",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("key", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("quiz_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_versions_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("quiz_id", "version", name=op.f("pk_quiz_versions")),
    )
    op.create_table(
        "quiz_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("quiz_id", sa.Uuid(), nullable=False),
        sa.Column("quiz_version", sa.Integer(), nullable=False),
        sa.Column("quiz_session_id", sa.Uuid(), nullable=True),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "grading_status",
            sa.Enum("GRADED", "PENDING", "NEEDS_REVIEW", name="gradingstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("points_earned", sa.Integer(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_spent_seconds", sa.Integer(), nullable=True),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grader_id", sa.Uuid(), nullable=True),
        sa.Column("grading_provider", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("grading_model", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("grading_input_tokens", sa.Integer(), nullable=True),
        sa.Column("grading_output_tokens", sa.Integer(), nullable=True),
        sa.Column("grading_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["grader_id"], ["users.id"], name=op.f("fk_quiz_attempts_grader_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id", "quiz_version"],
            ["quiz_versions.quiz_id", "quiz_versions.version"],
            name="fk_quiz_attempts_quiz_id_quiz_versions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["quiz_session_id"],
            ["quiz_sessions.id"],
            name=op.f("fk_quiz_attempts_quiz_session_id_quiz_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_quiz_attempts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_attempts")),
    )
    op.create_index("ix_quiz_attempts_quiz_session_id", "quiz_attempts", ["quiz_session_id"], unique=False)
    op.create_index(
        "ix_quiz_attempts_ungraded",
        "quiz_attempts",
        ["grading_status", "answered_at"],
        unique=False,
        postgresql_where=sa.text("grading_status <> 'GRADED'"),
    )
    op.create_index("ix_quiz_attempts_user_id_quiz_id", "quiz_attempts", ["user_id", "quiz_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_quiz_attempts_user_id_quiz_id", table_name="quiz_attempts")
    op.drop_index(
        "ix_quiz_attempts_ungraded",
        table_name="quiz_attempts",
        postgresql_where=sa.text("grading_status <> 'GRADED'"),
    )
    op.drop_index("ix_quiz_attempts_quiz_session_id", table_name="quiz_attempts")
    op.drop_table("quiz_attempts")
    op.drop_table("quiz_versions")
    op.drop_table("quiz_serves")
    op.drop_index("ix_quiz_cards_user_id_due", table_name="quiz_cards")
    op.drop_table("quiz_cards")
    op.drop_index(
        "ix_quizzes_subject_id_live", table_name="quizzes", postgresql_where=sa.text("archived_at IS NULL")
    )
    op.drop_index(op.f("ix_quizzes_author_id"), table_name="quizzes")
    op.drop_index(op.f("ix_quizzes_ai_job_id"), table_name="quizzes")
    op.drop_table("quizzes")
    op.drop_index(op.f("ix_quiz_sessions_user_id"), table_name="quiz_sessions")
    op.drop_table("quiz_sessions")
