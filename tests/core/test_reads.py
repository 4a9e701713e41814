"""`core.reads`: statements compiled once and run on the driver give what SQLAlchemy's execution gave."""

import uuid

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from core.db import engine, read_connection, read_session, transaction
from core.errors import NotFound
from models.classroom import Step, StepRecord, TargetAction
from resolvers import classroom
from resolvers.classroom.loaders import lectures_by_ids, steps_by_ids
from tests.helpers.classroom import actor, make_classroom
from tests.helpers.db import count_queries


async def test_records_hold_the_values_the_orm_loads() -> None:
    # Given a task of three steps, each with an enum and a JSON column
    room = await make_classroom(steps=3)
    ids = [step.id for step in room.steps]
    async with read_session() as db:
        loaded = {
            row.id: row for row in (await db.execute(select(Step).where(col(Step.id).in_(ids)))).scalars()
        }
    # When the steps are read as records, in reverse order and with an unknown id among them
    unknown = uuid.uuid4()
    async with read_connection() as db:
        records = await steps_by_ids(db, [*reversed(ids), unknown])
    # Then each record holds the ORM row's values, of the same types, in the order asked, None for none
    assert [record.id if record else None for record in records] == [*reversed(ids), None]
    for record in records[:3]:
        assert isinstance(record, StepRecord)
        row = loaded[record.id]
        for field in StepRecord._fields:
            assert getattr(record, field) == getattr(row, field)
            assert type(getattr(record, field)) is type(getattr(row, field)) or field in ("id", "task_id")
        assert record.target_action is TargetAction.CLICK
        assert isinstance(record.target_hint, dict)


async def test_a_read_in_a_transaction_sees_its_uncommitted_writes() -> None:
    # Given a lecture created in a transaction that has not committed yet
    room = await make_classroom()
    with pytest.raises(NotFound):
        async with transaction() as db:
            lecture = await classroom.create_lecture(db, actor(room.instructor), "Video calls", None)
            await db.flush()
            # Then a read in that transaction sees it
            (seen,) = await lectures_by_ids(db, [lecture.id])
            assert seen is not None and seen.title == "Video calls"
            raise NotFound("Lecture")
    # And once it has rolled back, nobody does
    async with read_connection() as reader:
        assert await lectures_by_ids(reader, [lecture.id]) == [None]


async def test_statement_counts_see_the_reads() -> None:
    room = await make_classroom()
    with count_queries() as statements:
        async with read_connection() as db:
            await lectures_by_ids(db, [room.lecture.id])
    assert len(statements) == 1
    assert "FROM lectures" in statements[0]


async def test_a_connection_lost_under_a_read_is_not_handed_out_again() -> None:
    # Given a pooled connection whose backend Postgres has ended
    room = await make_classroom()
    async with read_connection() as db:
        lost = await db.driver.fetchval("SELECT pg_backend_pid()")
        async with engine().connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        # When a read runs on it, it fails
        with pytest.raises(Exception):  # noqa: B017 - whichever error the driver raises for a lost connection
            await lectures_by_ids(db, [room.lecture.id])
    # Then every later read gets a working connection, never that one again
    for _ in range(2 * engine().sync_engine.pool.size()):
        async with read_connection() as db:
            assert [lecture.id for lecture in await lectures_by_ids(db, [room.lecture.id]) if lecture] == [
                room.lecture.id
            ]
