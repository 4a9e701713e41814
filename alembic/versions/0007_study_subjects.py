"""study: subjects with a trigram search index, and study settings per user and subject

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIFFICULTY = sa.Enum("EASY", "MEDIUM", "HARD", name="difficulty", native_enum=False, length=24)
SUMMARY_LENGTH = sa.Enum("SHORT", "MEDIUM", "LONG", name="summarylength", native_enum=False, length=24)

# One text per subject for the search: `array_to_string` is only STABLE, so an index expression cannot
# call it directly; for a text[] its result depends on no setting, which makes this wrapper truly
# IMMUTABLE. Queries call the same function (models.study.subject_search_text) so the index matches.
SEARCH_TEXT_FUNCTION = """
CREATE OR REPLACE FUNCTION subject_search_text(name text, description text, tags text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT lower(name || ' ' || coalesce(description, '') || ' ' || array_to_string(tags, ' ')) $$
"""


def upgrade() -> None:
    # pg_trgm ships with PostgreSQL's contrib (the embedded 18 and the distributions' packages) and is a
    # trusted extension, so the database's owner may create it without being a superuser.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(SEARCH_TEXT_FUNCTION)
    op.create_table(
        "subjects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("default_difficulty", DIFFICULTY, nullable=False),
        sa.Column("requires_premium", sa.Boolean(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
    )
    op.create_index("uq_subjects_name_lower", "subjects", [sa.text("lower(name)")], unique=True)
    op.create_index("ix_subjects_category_lower", "subjects", [sa.text("lower(category)")], unique=False)
    op.create_index(
        "ix_subjects_search_text",
        "subjects",
        [sa.text("subject_search_text(name, description, tags) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "study_settings",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("difficulty", DIFFICULTY, nullable=False),
        sa.Column("daily_goal_minutes", sa.Integer(), nullable=False),
        sa.Column("summary_length", SUMMARY_LENGTH, nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "daily_goal_minutes BETWEEN 5 AND 600", name=op.f("ck_study_settings_daily_goal_minutes")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_study_settings_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_study_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "subject_id", name=op.f("pk_study_settings")),
    )
    op.create_index(op.f("ix_study_settings_subject_id"), "study_settings", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_study_settings_subject_id"), table_name="study_settings")
    op.drop_table("study_settings")
    op.drop_index("ix_subjects_search_text", table_name="subjects")
    op.drop_index("ix_subjects_category_lower", table_name="subjects")
    op.drop_index("uq_subjects_name_lower", table_name="subjects")
    op.drop_table("subjects")
    op.execute("DROP FUNCTION IF EXISTS subject_search_text(text, text, text[])")
    # pg_trgm stays: other databases objects may use it, and creating it again is idempotent.
