"""Create the database and bring its schema to the newest Alembic revision."""

from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent


def asyncpg_dsn(url: str | URL, *, database: str | None = None) -> str:
    """The SQLAlchemy URL (`postgresql+asyncpg://…`) in the form asyncpg itself accepts."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str) -> None:
    """Create the URL's database on its server unless it exists (connects to `postgres` to do so)."""
    name = make_url(url).database
    if not name:
        raise ValueError(f"the database URL names no database: {make_url(url)!r}")
    connection = await asyncpg.connect(asyncpg_dsn(url, database="postgres"))
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return
        try:
            await connection.execute(f"CREATE DATABASE {_quote_identifier(name)}")
        except asyncpg.DuplicateDatabaseError:
            # Another process (a second api or worker starting) created it first.
            return
    finally:
        await connection.close()


def upgrade_head(url: str) -> None:
    """Apply every pending migration to the URL's database. Runs its own event loop."""
    from alembic.config import Config

    from alembic import command

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    # The ini file interpolates %-signs, which may appear in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
