"""The data migration 0004 (camelCase UI targets and analysed steps to snake_case), on a scratch
database built by the real migrations up to 0003."""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from core.migrations import ROOT, asyncpg_dsn, ensure_database

OLD_HINT = {"viewId": "app:id/send", "text": "Send", "contentDescription": None, "bounds": None,
            "packageName": "app", "className": None}  # fmt: skip
OLD_STEP = {
    "order": 1,
    "title": "Tap “Send”",
    "description": "Tap Send.",
    "targetAction": "CLICK",
    "target": OLD_HINT,
    "sourceEventIds": ["e1", "e2"],
    "guideText": "Find “Send” and tap it.",
    "voiceGuideText": "Tap Send.",
}
EMPTY_TARGET_STEP = {**OLD_STEP, "order": 2, "target": {"viewId": None, "text": None}}
NEW_HINT = {"view_id": "app:id/send", "text": "Send", "package_name": "app"}


def _migrate(url: str, direction: str, revision: str) -> None:
    from alembic.config import Config

    from alembic import command

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    getattr(command, direction)(config, revision)


@pytest.fixture
async def scratch() -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    url = make_url(os.environ["DATABASE_URL"]).set(database=f"scratch_{uuid.uuid4().hex[:10]}")
    rendered = url.render_as_string(hide_password=False)
    await ensure_database(rendered)
    await asyncio.to_thread(_migrate, rendered, "upgrade", "0003")
    connection = await asyncpg.connect(asyncpg_dsn(rendered))
    try:
        yield rendered, connection
    finally:
        await connection.close()
        server = await asyncpg.connect(asyncpg_dsn(rendered, database="postgres"))
        try:
            await server.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await server.close()


async def _old_rows(db: asyncpg.Connection) -> dict[str, uuid.UUID]:
    ids = {
        name: uuid.uuid4() for name in ("user", "lecture", "task", "step", "revision", "recording", "bare")
    }
    await db.execute(
        "INSERT INTO users (id, email, password_hash, name, role, timezone, language, total_study_minutes,"
        " streak_days, failed_login_count, created_at, updated_at)"
        " VALUES ($1, 'i@example.com', 'x', 'I', 'INSTRUCTOR', 'UTC', 'en', 0, 0, 0, now(), now())",
        ids["user"],
    )
    await db.execute(
        "INSERT INTO lectures (id, instructor_id, title, is_active, created_at, updated_at)"
        " VALUES ($1, $2, 'L', true, now(), now())",
        ids["lecture"],
        ids["user"],
    )
    await db.execute(
        "INSERT INTO tasks (id, lecture_id, title, created_at, updated_at)"
        " VALUES ($1, $2, 'T', now(), now())",
        ids["task"],
        ids["lecture"],
    )
    for step_id, hint in ((ids["step"], OLD_HINT), (ids["bare"], None)):
        await db.execute(
            "INSERT INTO steps (id, task_id, position, title, guide_text, target_hint, version, created_at,"
            " updated_at) VALUES ($1, $2, $3, 'S', 'g', $4::json, 1, now(), now())",
            step_id,
            ids["task"],
            1 if step_id == ids["step"] else 2,
            None if hint is None else json.dumps(hint),
        )
    await db.execute(
        "INSERT INTO step_revisions (id, step_id, version, title, guide_text, target_hint, created_at)"
        " VALUES ($1, $2, 1, 'S', 'g', $3::json, now())",
        ids["revision"],
        ids["step"],
        json.dumps(OLD_HINT),
    )
    await db.execute(
        "INSERT INTO recordings (id, owner_id, title, status, event_count, started_at, analysis_version,"
        " analysis, created_at, updated_at) VALUES ($1, $2, 'R', 'ANALYZED', 0, now(), 1, $3::jsonb, now(),"
        " now())",
        ids["recording"],
        ids["user"],
        json.dumps([OLD_STEP, EMPTY_TARGET_STEP]),
    )
    return ids


async def _stored(db: asyncpg.Connection, ids: dict[str, uuid.UUID]) -> tuple[object, ...]:
    def value(raw: str | None) -> object:
        return None if raw is None else json.loads(raw)

    return (
        value(await db.fetchval("SELECT target_hint::text FROM steps WHERE id = $1", ids["step"])),
        value(await db.fetchval("SELECT target_hint::text FROM steps WHERE id = $1", ids["bare"])),
        value(
            await db.fetchval("SELECT target_hint::text FROM step_revisions WHERE id = $1", ids["revision"])
        ),
        value(await db.fetchval("SELECT analysis::text FROM recordings WHERE id = $1", ids["recording"])),
    )


async def test_upgrade_stores_snake_case_targets_and_steps(scratch) -> None:
    # Given camelCase hints and analysed steps written before 0004
    url, db = scratch
    ids = await _old_rows(db)
    # When the database is upgraded
    await asyncio.to_thread(_migrate, url, "upgrade", "0004")
    # Then every stored target is the snake_case `UiTarget.stored()` shape, and every step an AnalyzedStep
    step_hint, bare_hint, revision_hint, analysis = await _stored(db, ids)
    assert (step_hint, bare_hint, revision_hint) == (NEW_HINT, None, NEW_HINT)
    assert analysis == [
        {
            "order": 1,
            "title": "Tap “Send”",
            "description": "Tap Send.",
            "target_action": "CLICK",
            "target": NEW_HINT,
            "source_event_ids": ["e1", "e2"],
            "guide_text": "Find “Send” and tap it.",
            "voice_guide_text": "Tap Send.",
        },
        {**analysis[0], "order": 2, "target": None},
    ]
    from models.recordings import AnalyzedStep

    assert [AnalyzedStep.model_validate(step).target.stored() for step in analysis] == [NEW_HINT, None]


async def test_downgrade_writes_the_camel_case_shape_back(scratch) -> None:
    # Given a database upgraded through 0004
    url, db = scratch
    ids = await _old_rows(db)
    await asyncio.to_thread(_migrate, url, "upgrade", "0004")
    # When it is downgraded again
    await asyncio.to_thread(_migrate, url, "downgrade", "0003")
    # Then the old readers find their camelCase keys (targets without their empty keys)
    step_hint, bare_hint, revision_hint, analysis = await _stored(db, ids)
    old_hint = {"viewId": "app:id/send", "text": "Send", "packageName": "app"}
    assert (step_hint, bare_hint, revision_hint) == (old_hint, None, old_hint)
    assert analysis == [{**OLD_STEP, "target": old_hint}, {**OLD_STEP, "order": 2, "target": None}]
