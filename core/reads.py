"""Hot reads: a Core SELECT compiled once and run on the asyncpg connection itself.

SQLAlchemy's execution layer costs about 0.3 ms of CPU per statement (cache key, compiled-cache lookup,
result proxy, the greenlet hop), which is most of a DataLoader batch of a few rows. A `Read` compiles its
statement for the connection's dialect once, keeps the order of its parameters and the result
processors the driver's values still need (enums arrive as strings), and then costs one asyncpg
`fetch`, whose prepared statement the connection keeps. It runs on whatever connection the session holds,
so inside a transaction it sees that transaction's writes.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

R = TypeVar("R")

Processor = Callable[[Any], Any]


def any_of(column: Any, name: str) -> ColumnElement[bool]:
    """`column = ANY($n::uuid[])` with the parameter `name`: one statement text for any number of keys."""
    parameter = bindparam(name, type_=ARRAY(Uuid()))
    result: ColumnElement[bool] = column == any_(parameter)
    return result


def record_select(fields: Sequence[str], model: type[Any]) -> Select[Any]:
    """A SELECT of `model`'s columns named `fields`, in that order (a NamedTuple's `_fields`)."""
    table = model.__table__
    return select(*(table.c[name] for name in fields))


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # In the statement's order, each with the processor that makes its value the driver's, if any.
    parameters: tuple[tuple[str, Processor | None], ...]
    # (position, processor) for the columns whose driver value is not yet the Python value.
    processors: tuple[tuple[int, Processor], ...]


class Read(Generic[R]):
    """`statement`'s rows as `make(*row)`; `statement` names its parameters with `bindparam`."""

    def __init__(self, make: Callable[..., R], statement: Select[Any]) -> None:
        self._make = make
        self._statement = statement
        self._compiled: _Compiled | None = None

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        parameters = tuple(
            (name, _bind_processor(binds[name].type, dialect)) for name in compiled.positiontup or ()
        )
        processors = tuple(
            (position, processor)
            for position, column in enumerate(compiled._result_columns)
            if (processor := column.type._cached_result_processor(dialect, None)) is not None
        )
        self._compiled = _Compiled(str(compiled), parameters, processors)
        return self._compiled

    async def all(self, db: "Db", **parameters: object) -> list[R]:
        connection = await _connection_of(db)
        compiled = self._compiled or self._compile(connection.engine.dialect)
        arguments = tuple(
            processor(parameters[name]) if processor else parameters[name]
            for name, processor in compiled.parameters
        )
        connection.announce(compiled.sql, arguments)
        try:
            rows = await connection.driver.fetch(compiled.sql, *arguments)
        except BaseException:
            if connection.driver.is_closed():
                # As SQLAlchemy does on a disconnect: the pool must not hand this connection out again.
                await connection.invalidate()
            raise
        make = self._make
        if not compiled.processors:
            return [make(*row) for row in rows]
        return [make(*_processed(row, compiled.processors)) for row in rows]


class ReadConnection:
    """A pooled connection that runs `Read`s outside any session (`core.db.read_connection`)."""

    __slots__ = ("driver", "engine", "invalidate")

    def __init__(self, driver: Any, engine: Engine, invalidate: Callable[[], Awaitable[object]]) -> None:
        self.driver = driver
        self.engine = engine
        self.invalidate = invalidate

    def announce(self, sql: str, arguments: tuple[object, ...]) -> None:
        """Tells the engine's `before_cursor_execute` listeners (statement counts, tracing) of a statement,
        as SQLAlchemy's own execution would."""
        listeners = self.engine.dispatch.before_cursor_execute
        if listeners:
            listeners(None, None, sql, arguments, None, False)


# A Read runs on a session's connection (inside its transaction, if it has begun one) or on a bare one.
Db = AsyncSession | ReadConnection


async def _connection_of(db: Db) -> ReadConnection:
    if isinstance(db, ReadConnection):
        return db
    connection = await db.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    return ReadConnection(driver, connection.sync_engine, connection.invalidate)


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    # An ARRAY of items that need no processing is only copied into a list, and the driver takes the
    # list it is given as it is.
    if isinstance(type_, ARRAY) and type_.item_type._cached_bind_processor(dialect) is None:
        return None
    return type_._cached_bind_processor(dialect)


def _processed(row: Sequence[Any], processors: tuple[tuple[int, Processor], ...]) -> list[Any]:
    values = list(row)
    for position, processor in processors:
        values[position] = processor(values[position])
    return values
