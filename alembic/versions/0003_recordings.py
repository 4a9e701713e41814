"""recordings, their events and activity logs

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("lecture_id", sa.Uuid(), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "RECORDING",
                "COMPLETED",
                "PROCESSING",
                "ANALYZED",
                "FAILED",
                name="recordingstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("analysis_version", sa.Integer(), nullable=False),
        sa.Column("analysis", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("analysis_error", sa.Text(), nullable=True),
        sa.Column("analysis_model", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("analyzed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lecture_id"],
            ["lectures.id"],
            name=op.f("fk_recordings_lecture_id_lectures"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_recordings_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_recordings_task_id_tasks"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("task_id", name=op.f("uq_recordings_task_id")),
    )
    op.create_index(op.f("ix_recordings_lecture_id"), "recordings", ["lecture_id"], unique=False)
    op.create_index(op.f("ix_recordings_owner_id"), "recordings", ["owner_id"], unique=False)
    op.create_table(
        "recording_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("package_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("class_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("content_description", sa.Text(), nullable=True),
        sa.Column("view_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("bounds", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("is_sensitive", sa.Boolean(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_events_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_recording_events")),
    )
    op.create_index(
        "ix_recording_events_timeline",
        "recording_events",
        ["recording_id", "occurred_at", "event_id"],
        unique=False,
    )
    op.create_table(
        "activity_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("participant_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("step_id", sa.Uuid(), nullable=True),
        sa.Column("recording_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_activity_events")),
    )
    op.create_index(
        op.f("ix_activity_events_participant_id"), "activity_events", ["participant_id"], unique=False
    )
    op.create_index(
        "ix_activity_events_session", "activity_events", ["session_id", "occurred_at"], unique=False
    )
    op.create_index(op.f("ix_activity_events_user_id"), "activity_events", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("activity_events")
    op.drop_table("recording_events")
    op.drop_table("recordings")
