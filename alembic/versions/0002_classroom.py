"""classroom: lectures, tasks and steps, live sessions, progress and help requests

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lectures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instructor_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instructor_id"], ["users.id"], name=op.f("fk_lectures_instructor_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lectures")),
    )
    op.create_index(
        "ix_lectures_instructor_created", "lectures", ["instructor_id", "created_at"], unique=False
    )
    op.create_table(
        "enrollments",
        sa.Column("lecture_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lecture_id"],
            ["lectures.id"],
            name=op.f("fk_enrollments_lecture_id_lectures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enrollments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lecture_id", "user_id", name=op.f("pk_enrollments")),
    )
    op.create_index(op.f("ix_enrollments_user_id"), "enrollments", ["user_id"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lecture_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lecture_id"], ["lectures.id"], name=op.f("fk_tasks_lecture_id_lectures"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_lecture_id"), "tasks", ["lecture_id"], unique=False)
    op.create_table(
        "steps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column(
            "target_action",
            sa.Enum(
                "CLICK",
                "LONG_CLICK",
                "SCROLL",
                "INPUT",
                "NAVIGATE",
                name="targetaction",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("guide_text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("voice_guide_text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("target_hint", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_steps_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steps")),
    )
    op.create_index(op.f("ix_steps_task_id"), "steps", ["task_id"], unique=False)
    op.create_index(
        "uq_steps_task_position_live",
        "steps",
        ["task_id", "position"],
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_table(
        "live_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lecture_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("instructor_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "WAITING",
                "IN_PROGRESS",
                "PAUSED",
                "ENDED",
                name="sessionstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("current_step_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["current_step_id"], ["steps.id"], name=op.f("fk_live_sessions_current_step_id_steps")
        ),
        sa.ForeignKeyConstraint(
            ["instructor_id"],
            ["users.id"],
            name=op.f("fk_live_sessions_instructor_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lecture_id"],
            ["lectures.id"],
            name=op.f("fk_live_sessions_lecture_id_lectures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_live_sessions_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_sessions")),
    )
    op.create_index(op.f("ix_live_sessions_instructor_id"), "live_sessions", ["instructor_id"], unique=False)
    op.create_index(op.f("ix_live_sessions_lecture_id"), "live_sessions", ["lecture_id"], unique=False)
    op.create_index(op.f("ix_live_sessions_task_id"), "live_sessions", ["task_id"], unique=False)
    op.create_index(
        "uq_live_sessions_code_open",
        "live_sessions",
        ["code"],
        unique=True,
        postgresql_where=sa.text("status <> 'ENDED'"),
    )
    op.create_table(
        "step_revisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column(
            "target_action",
            sa.Enum(
                "CLICK",
                "LONG_CLICK",
                "SCROLL",
                "INPUT",
                "NAVIGATE",
                name="targetaction",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("guide_text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("voice_guide_text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("target_hint", sa.JSON(), nullable=True),
        sa.Column("edited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["edited_by"], ["users.id"], name=op.f("fk_step_revisions_edited_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["step_id"], ["steps.id"], name=op.f("fk_step_revisions_step_id_steps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_revisions")),
    )
    op.create_index(op.f("ix_step_revisions_step_id"), "step_revisions", ["step_id"], unique=False)
    op.create_table(
        "participants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("device_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "WAITING",
                "ACTIVE",
                "COMPLETED",
                "LEFT",
                name="participantstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("current_step_id", sa.Uuid(), nullable=True),
        sa.Column("completed_steps", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["current_step_id"], ["steps.id"], name=op.f("fk_participants_current_step_id_steps")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["live_sessions.id"],
            name=op.f("fk_participants_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_participants_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
    )
    op.create_index(op.f("ix_participants_session_id"), "participants", ["session_id"], unique=False)
    op.create_index(
        "uq_participants_session_device",
        "participants",
        ["session_id", "device_hash"],
        unique=True,
        postgresql_where=sa.text("device_hash IS NOT NULL"),
    )
    op.create_index(
        "uq_participants_session_user",
        "participants",
        ["session_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_table(
        "session_controls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "WAITING",
                "IN_PROGRESS",
                "PAUSED",
                "ENDED",
                name="sessionstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "WAITING",
                "IN_PROGRESS",
                "PAUSED",
                "ENDED",
                name="sessionstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("from_step_id", sa.Uuid(), nullable=True),
        sa.Column("to_step_id", sa.Uuid(), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_session_controls_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["from_step_id"], ["steps.id"], name=op.f("fk_session_controls_from_step_id_steps")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["live_sessions.id"],
            name=op.f("fk_session_controls_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_step_id"], ["steps.id"], name=op.f("fk_session_controls_to_step_id_steps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_controls")),
    )
    op.create_index(op.f("ix_session_controls_session_id"), "session_controls", ["session_id"], unique=False)
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column(
            "status",
            sa.Enum("PENDING", "ACKNOWLEDGED", "RESOLVED", name="helpstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("diagnosis", sa.JSON(), nullable=True),
        sa.Column("response", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_help_requests_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["users.id"],
            name=op.f("fk_help_requests_resolved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["live_sessions.id"],
            name=op.f("fk_help_requests_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["step_id"], ["steps.id"], name=op.f("fk_help_requests_step_id_steps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_requests")),
    )
    op.create_index(
        op.f("ix_help_requests_participant_id"), "help_requests", ["participant_id"], unique=False
    )
    op.create_index(op.f("ix_help_requests_session_id"), "help_requests", ["session_id"], unique=False)
    op.create_table(
        "step_progress",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "NOT_STARTED",
                "IN_PROGRESS",
                "COMPLETED",
                "HELP_NEEDED",
                name="progressstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_step_progress_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["live_sessions.id"],
            name=op.f("fk_step_progress_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["step_id"], ["steps.id"], name=op.f("fk_step_progress_step_id_steps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_progress")),
    )
    op.create_index(op.f("ix_step_progress_session_id"), "step_progress", ["session_id"], unique=False)
    op.create_index(
        "uq_step_progress_participant_step", "step_progress", ["participant_id", "step_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_step_progress_participant_step", table_name="step_progress")
    op.drop_index(op.f("ix_step_progress_session_id"), table_name="step_progress")
    op.drop_table("step_progress")
    op.drop_index(op.f("ix_help_requests_session_id"), table_name="help_requests")
    op.drop_index(op.f("ix_help_requests_participant_id"), table_name="help_requests")
    op.drop_table("help_requests")
    op.drop_index(op.f("ix_session_controls_session_id"), table_name="session_controls")
    op.drop_table("session_controls")
    op.drop_index(
        "uq_participants_session_user",
        table_name="participants",
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_participants_session_device",
        table_name="participants",
        postgresql_where=sa.text("device_hash IS NOT NULL"),
    )
    op.drop_index(op.f("ix_participants_session_id"), table_name="participants")
    op.drop_table("participants")
    op.drop_index(op.f("ix_step_revisions_step_id"), table_name="step_revisions")
    op.drop_table("step_revisions")
    op.drop_index(
        "uq_live_sessions_code_open",
        table_name="live_sessions",
        postgresql_where=sa.text("status <> 'ENDED'"),
    )
    op.drop_index(op.f("ix_live_sessions_task_id"), table_name="live_sessions")
    op.drop_index(op.f("ix_live_sessions_lecture_id"), table_name="live_sessions")
    op.drop_index(op.f("ix_live_sessions_instructor_id"), table_name="live_sessions")
    op.drop_table("live_sessions")
    op.drop_index(
        "uq_steps_task_position_live", table_name="steps", postgresql_where=sa.text("removed_at IS NULL")
    )
    op.drop_index(op.f("ix_steps_task_id"), table_name="steps")
    op.drop_table("steps")
    op.drop_index(op.f("ix_tasks_lecture_id"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_enrollments_user_id"), table_name="enrollments")
    op.drop_table("enrollments")
    op.drop_index("ix_lectures_instructor_created", table_name="lectures")
    op.drop_table("lectures")
