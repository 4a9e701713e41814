"""study rooms: rooms, their members and their messages

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "study_rooms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("host_id", sa.Uuid(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("invite_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timer_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("focus_minutes", sa.Integer(), nullable=True),
        sa.Column("break_minutes", sa.Integer(), nullable=True),
        sa.CheckConstraint("capacity BETWEEN 2 AND 50", name=op.f("ck_study_rooms_capacity")),
        sa.ForeignKeyConstraint(
            ["host_id"], ["users.id"], name=op.f("fk_study_rooms_host_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_study_rooms_subject_id_subjects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_rooms")),
    )
    op.create_index(op.f("ix_study_rooms_host_id"), "study_rooms", ["host_id"], unique=False)
    op.create_index(op.f("ix_study_rooms_subject_id"), "study_rooms", ["subject_id"], unique=False)
    op.create_index(
        "ix_study_rooms_open_public_created_at",
        "study_rooms",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("is_public AND closed_at IS NULL"),
    )
    op.create_table(
        "study_room_members",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=80), nullable=True),
        sa.Column("focus_seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["study_rooms.id"],
            name=op.f("fk_study_room_members_room_id_study_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_study_room_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_study_room_members")),
    )
    op.create_index(op.f("ix_study_room_members_user_id"), "study_room_members", ["user_id"], unique=False)
    op.create_table(
        "study_room_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_study_room_messages_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["study_rooms.id"],
            name=op.f("fk_study_room_messages_room_id_study_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_room_messages")),
    )
    op.create_index(
        op.f("ix_study_room_messages_author_id"), "study_room_messages", ["author_id"], unique=False
    )
    op.create_index(
        "ix_study_room_messages_room_created_at",
        "study_room_messages",
        ["room_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_study_room_messages_room_created_at", table_name="study_room_messages")
    op.drop_index(op.f("ix_study_room_messages_author_id"), table_name="study_room_messages")
    op.drop_table("study_room_messages")
    op.drop_index(op.f("ix_study_room_members_user_id"), table_name="study_room_members")
    op.drop_table("study_room_members")
    op.drop_index("ix_study_rooms_open_public_created_at", table_name="study_rooms")
    op.drop_index(op.f("ix_study_rooms_subject_id"), table_name="study_rooms")
    op.drop_index(op.f("ix_study_rooms_host_id"), table_name="study_rooms")
    op.drop_table("study_rooms")
