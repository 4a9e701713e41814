"""sms: the user's phone and its verification code, the sms preference

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("phone", sa.String(length=16), nullable=True))
    op.add_column("users", sa.Column("phone_verified", sa.Boolean(), nullable=False, server_default="false"))
    op.add_column("users", sa.Column("phone_code_hash", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("phone_code_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("phone_code_tries", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "notification_preferences", sa.Column("sms", sa.Boolean(), nullable=False, server_default="false")
    )
    for table, column in (
        ("users", "phone_verified"),
        ("users", "phone_code_tries"),
        ("notification_preferences", "sms"),
    ):
        op.alter_column(table, column, server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE channel = 'SMS'")
    op.drop_column("notification_preferences", "sms")
    for column in ("phone_code_tries", "phone_code_expires_at", "phone_code_hash", "phone_verified", "phone"):
        op.drop_column("users", column)
