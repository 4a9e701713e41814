"""UI targets and analysed steps stored as snake_case JSON

Task steps' hints, their revisions' hints and recordings' analysed steps were stored with camelCase
keys (`viewId`, `targetAction`, …); they now hold the snake_case JSON of one Pydantic model each
(`models.classroom.UiTarget.stored()`, `models.recordings.AnalyzedStep`). A UI target keeps only the
keys it has a value for, and is null when it names nothing, like `UiTarget.stored()`.

The downgrade writes the camelCase shape back, including each analysed step's `order` (its position).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TARGET_KEYS = {
    "viewId": "view_id",
    "contentDescription": "content_description",
    "packageName": "package_name",
    "className": "class_name",
}
STEP_KEYS = {
    "targetAction": "target_action",
    "sourceEventIds": "source_event_ids",
    "guideText": "guide_text",
    "voiceGuideText": "voice_guide_text",
}
_HINT_TABLES = ("steps", "step_revisions")


def _renamed(value: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    return {keys.get(key, key): item for key, item in value.items()}


def _snake_target(target: Any) -> dict[str, Any] | None:
    if not isinstance(target, dict):
        return None
    kept = {key: item for key, item in _renamed(target, TARGET_KEYS).items() if item is not None}
    return kept or None


def _camel_target(target: Any) -> dict[str, Any] | None:
    if not isinstance(target, dict):
        return None
    return _renamed(target, {snake: camel for camel, snake in TARGET_KEYS.items()})


def _snake_analysis(steps: Any) -> Any:
    if not isinstance(steps, list):
        return steps
    converted = []
    for step in steps:
        step = _renamed(step, STEP_KEYS)
        step["target"] = _snake_target(step.get("target"))
        converted.append(step)
    return converted


def _camel_analysis(steps: Any) -> Any:
    if not isinstance(steps, list):
        return steps
    converted = []
    for order, step in enumerate(steps, 1):
        step = _renamed(step, {snake: camel for camel, snake in STEP_KEYS.items()})
        step["target"] = _camel_target(step.get("target"))
        step.setdefault("order", order)
        converted.append(step)
    return converted


def _rewrite(table: str, column: str, kind: sa.types.TypeEngine[Any], convert: Callable[[Any], Any]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL").columns(
            sa.column("id", sa.Uuid()), sa.column(column, kind)
        )
    ).all()
    update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id").bindparams(
        sa.bindparam("value", type_=kind), sa.bindparam("id", type_=sa.Uuid())
    )
    changes = [{"id": row_id, "value": convert(value)} for row_id, value in rows]
    if changes:
        connection.execute(update, changes)


# A target that names nothing becomes SQL NULL, not the JSON value null.
_HINT = sa.JSON(none_as_null=True)
_ANALYSIS = postgresql.JSONB(none_as_null=True)


def upgrade() -> None:
    for table in _HINT_TABLES:
        _rewrite(table, "target_hint", _HINT, _snake_target)
    _rewrite("recordings", "analysis", _ANALYSIS, _snake_analysis)


def downgrade() -> None:
    for table in _HINT_TABLES:
        _rewrite(table, "target_hint", _HINT, _camel_target)
    _rewrite("recordings", "analysis", _ANALYSIS, _camel_analysis)
