"""The database seen from a test: which SQL statements the app sends."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collects every SQL statement the app sends while the block runs (for N+1 tests)."""
    from core.db import engine

    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sync_engine = engine().sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
