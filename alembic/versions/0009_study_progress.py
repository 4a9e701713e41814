"""study: the activity log behind progress and streaks, and study goals

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVITY_KIND = sa.Enum(
    "SUMMARY_READ", "QUIZ_ANSWERED", "STUDY_TIME", name="activitykind", native_enum=False, length=24
)
GOAL_KIND = sa.Enum("DAILY", "WEEKLY", "MONTHLY", "CUSTOM", name="goalkind", native_enum=False, length=24)
GOAL_STATUS = sa.Enum(
    "ACTIVE", "ACHIEVED", "EXPIRED", "ABANDONED", name="goalstatus", native_enum=False, length=24
)


def upgrade() -> None:
    op.create_table(
        "study_activities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("kind", ACTIVITY_KIND, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "score IS NULL OR (score >= 0 AND score <= 1)", name=op.f("ck_study_activities_score")
        ),
        sa.CheckConstraint("minutes >= 0", name=op.f("ck_study_activities_minutes")),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_study_activities_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_study_activities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_activities")),
        sa.UniqueConstraint("kind", "source_id", name="uq_study_activities_kind_source_id"),
    )
    op.create_index(
        "ix_study_activities_user_subject_occurred",
        "study_activities",
        ["user_id", "subject_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_study_activities_user_occurred", "study_activities", ["user_id", "occurred_at"], unique=False
    )
    op.create_index(op.f("ix_study_activities_subject_id"), "study_activities", ["subject_id"], unique=False)
    op.create_table(
        "study_goals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("kind", GOAL_KIND, nullable=False),
        sa.Column("status", GOAL_STATUS, nullable=False),
        sa.Column("target_summaries", sa.Integer(), nullable=True),
        sa.Column("target_quizzes", sa.Integer(), nullable=True),
        sa.Column("target_minutes", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(target_summaries, target_quizzes, target_minutes) >= 1",
            name=op.f("ck_study_goals_has_target"),
        ),
        sa.CheckConstraint(
            "target_summaries BETWEEN 1 AND 100000 AND target_quizzes BETWEEN 1 AND 100000 AND "
            "target_minutes BETWEEN 1 AND 100000",
            name=op.f("ck_study_goals_targets"),
        ),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_study_goals_window")),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_study_goals_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_study_goals_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_goals")),
    )
    op.create_index("ix_study_goals_user_status", "study_goals", ["user_id", "status"], unique=False)
    op.create_index(
        "ix_study_goals_active_ends_on",
        "study_goals",
        ["ends_on"],
        unique=False,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index(op.f("ix_study_goals_subject_id"), "study_goals", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_study_goals_subject_id"), table_name="study_goals")
    op.drop_index("ix_study_goals_active_ends_on", table_name="study_goals")
    op.drop_index("ix_study_goals_user_status", table_name="study_goals")
    op.drop_table("study_goals")
    op.drop_index(op.f("ix_study_activities_subject_id"), table_name="study_activities")
    op.drop_index("ix_study_activities_user_occurred", table_name="study_activities")
    op.drop_index("ix_study_activities_user_subject_occurred", table_name="study_activities")
    op.drop_table("study_activities")
