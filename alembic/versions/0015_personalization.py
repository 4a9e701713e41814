"""personalization: each student's ability belief per subject and quiz topic

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "learner_abilities",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("ability", sa.Float(), nullable=False),
        sa.Column("ability_variance", sa.Float(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ability_variance > 0", name=op.f("ck_learner_abilities_ability_variance")),
        sa.CheckConstraint("answered >= 0", name=op.f("ck_learner_abilities_answered")),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_learner_abilities_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_learner_abilities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "subject_id", "topic", name=op.f("pk_learner_abilities")),
    )
    op.create_index(
        op.f("ix_learner_abilities_subject_id"), "learner_abilities", ["subject_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_learner_abilities_subject_id"), table_name="learner_abilities")
    op.drop_table("learner_abilities")
