"""notification pipeline: one row per (notification, channel), preferences, push device tokens

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORM = sa.Enum("ANDROID", "IOS", "WEB", name="platform", native_enum=False, length=24)


def upgrade() -> None:
    op.drop_constraint("uq_notifications_dedupe_key", "notifications", type_="unique")
    op.create_unique_constraint(
        "uq_notifications_dedupe_key_channel", "notifications", ["dedupe_key", "channel"]
    )
    op.add_column("notifications", sa.Column("html", sa.String(), nullable=True))
    op.add_column("notifications", sa.Column("deliver_after", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("notifications", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("error", sa.String(length=500), nullable=True))
    op.alter_column("notifications", "attempts", server_default=None)
    op.create_index(
        "ix_notifications_user_id_channel_claimed_at", "notifications", ["user_id", "channel", "claimed_at"]
    )
    op.create_index(
        "ix_notifications_undelivered",
        "notifications",
        ["deliver_after"],
        postgresql_where=sa.text("status IN ('PENDING', 'SENDING')"),
    )
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("quiet_hours_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_hours_end", sa.String(length=5), nullable=True),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("muted_kinds", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "device_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=4096), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("platform", PLATFORM, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deactivated_reason", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_device_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_device_tokens_token")),
    )
    op.create_index(op.f("ix_device_tokens_user_id"), "device_tokens", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_device_tokens_user_id"), table_name="device_tokens")
    op.drop_table("device_tokens")
    op.drop_table("notification_preferences")
    op.drop_index("ix_notifications_undelivered", table_name="notifications")
    op.drop_index("ix_notifications_user_id_channel_claimed_at", table_name="notifications")
    # Only the in-app rows fit the old one-row-per-key shape.
    op.execute("DELETE FROM notifications WHERE channel <> 'IN_APP'")
    for column in ("error", "sent_at", "claimed_at", "attempts", "deliver_after", "html"):
        op.drop_column("notifications", column)
    op.drop_constraint("uq_notifications_dedupe_key_channel", "notifications", type_="unique")
    op.create_unique_constraint("uq_notifications_dedupe_key", "notifications", ["dedupe_key"])
