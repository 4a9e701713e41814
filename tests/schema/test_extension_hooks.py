"""The cached-hooks runner runs extensions exactly as Strawberry's own runner does.

An extension with one hook of every kind (generator, async generator, plain function, coroutine, a
stream-result hook, reported results) records what it sees; the same operations run on a schema with
Strawberry's runner and on one with ours, and the records and results must be identical, including when
a resolver fails, the document does not parse, or a subscription streams.
"""

import functools
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult

from schema.extension_hooks import CachedHooksRunner


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self) -> str:
        return "hello"

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("resolver failed")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self) -> AsyncGenerator[int, None]:
        for n in range(2):
            yield n


class Recorder(SchemaExtension):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def on_operation(self) -> Iterator[None]:
        self.log.append("operation: enter")
        try:
            yield
        except Exception as error:
            self.log.append(f"operation: raised {error!r}")
            raise
        self.log.append("operation: exit")

    async def on_parse(self) -> AsyncIterator[None]:
        self.log.append(f"parse: enter {self.execution_context.graphql_document is None}")
        yield
        self.log.append(f"parse: exit {self.execution_context.graphql_document is None}")

    def on_validate(self) -> None:
        # Called on entry: validation has not run yet.
        self.log.append(f"validate: called {self.execution_context.pre_execution_errors is None}")

    async def on_execute(self) -> None:
        context = self.execution_context
        self.log.append(f"execute: awaited {context.operation_type.value} {context.result is None}")

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self.log.append(f"stream result: {result.data}")
        yield

    def get_results(self) -> dict[str, Any]:
        return {"entries": len(self.log)}


class Quiet(SchemaExtension):
    """Overrides nothing: takes part in no phase."""


class CachedHooksSchema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return CachedHooksRunner(execution_context, extensions)


def _schema(schema_class: type[strawberry.Schema], log: list[str]) -> strawberry.Schema:
    return schema_class(query=Query, subscription=Subscription, extensions=[lambda: Recorder(log), Quiet])


async def _run(schema: strawberry.Schema, document: str) -> list[Any]:
    if document.startswith("subscription"):
        results = []
        subscription = await schema.subscribe(document)
        assert not isinstance(subscription, strawberry.types.ExecutionResult)
        async for result in subscription:
            results.append((result.data, result.errors))
        return results
    result = await schema.execute(document)
    return [result.data, [error.message for error in result.errors or []], result.extensions]


@pytest.mark.parametrize(
    "document",
    ["{ greeting }", "{ broken }", "{ greeting", "{ noSuchField }", "subscription { count }"],
)
async def test_every_hook_runs_as_under_strawberrys_runner(document: str) -> None:
    # Given the same extension on a schema with Strawberry's runner and one with ours
    theirs: list[str] = []
    ours: list[str] = []
    # When each runs the document twice (the second time from the cached hook kinds)
    expected = [await _run(_schema(strawberry.Schema, theirs), document) for _ in range(2)]
    got = [await _run(_schema(CachedHooksSchema, ours), document) for _ in range(2)]
    # Then the results and every hook's record are the same
    assert got == expected
    assert ours == theirs
    assert "operation: enter" in ours


class FailsOnExit(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield
        raise ValueError("hook failed on exit")


class FailsOnExitAsync(SchemaExtension):
    async def on_validate(self) -> AsyncIterator[None]:
        yield
        raise ValueError("async hook failed on exit")


class YieldsTwice(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        yield
        yield


class NeverYields(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        return
        yield


class FailsOnEntry(SchemaExtension):
    def on_validate(self) -> None:
        raise ValueError("hook failed on entry")


class Swallows(SchemaExtension):
    """Catches what the hooks inside it raise, in every phase, and records it."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def _swallowed(self, phase: str, error: ValueError) -> None:
        self.log.append(f"{phase} swallowed {error!r} (context {error.__context__!r})")

    async def on_operation(self) -> AsyncIterator[None]:
        try:
            yield
        except ValueError as error:
            self._swallowed("operation", error)

    def on_parse(self) -> Iterator[None]:
        try:
            yield
        except ValueError as error:
            self._swallowed("parse", error)

    async def on_validate(self) -> AsyncIterator[None]:
        try:
            yield
        except ValueError as error:
            self._swallowed("validate", error)

    def on_execute(self) -> Iterator[None]:
        try:
            yield
        except ValueError as error:
            self._swallowed("execute", error)


def _outcome_schema(
    schema_class: type[strawberry.Schema], log: list[str], misbehaving: type[SchemaExtension], swallow: bool
) -> strawberry.Schema:
    extensions: list[Any] = [lambda: Recorder(log), misbehaving]
    if swallow:
        extensions.insert(0, lambda: Swallows(log))
    return schema_class(query=Query, extensions=extensions)


async def _outcome(schema: strawberry.Schema, document: str) -> list[Any]:
    try:
        return await _run(schema, document)
    except BaseException as error:
        return ["raised", repr(error), repr(error.__context__), repr(error.__cause__)]


@pytest.mark.parametrize("swallow", [False, True])
@pytest.mark.parametrize(
    "misbehaving", [FailsOnExit, FailsOnExitAsync, YieldsTwice, NeverYields, FailsOnEntry]
)
@pytest.mark.parametrize("document", ["{ greeting }", "{ broken }"])
async def test_a_misbehaving_hook_fails_as_under_strawberrys_runner(
    document: str, misbehaving: type[SchemaExtension], swallow: bool
) -> None:
    theirs: list[str] = []
    ours: list[str] = []
    expected = await _outcome(_outcome_schema(strawberry.Schema, theirs, misbehaving, swallow), document)
    got = await _outcome(_outcome_schema(CachedHooksSchema, ours, misbehaving, swallow), document)
    assert got == expected
    assert ours == theirs


class SyncRecorder(SchemaExtension):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def on_operation(self) -> Iterator[None]:
        self.log.append("operation: enter")
        yield
        self.log.append("operation: exit")

    def on_execute(self) -> None:
        self.log.append("execute: called")


def _scrubbed(message: str) -> str:
    """Without object addresses, which differ between the two schemas' extension instances."""
    return re.sub(" at 0x[0-9a-f]+", "", message)


@pytest.mark.parametrize("extensions", [[], [FailsOnExit], [FailsOnExitAsync]])
def test_synchronous_execution_runs_hooks_as_under_strawberrys_runner(
    extensions: list[type[SchemaExtension]],
) -> None:
    outcomes = []
    for schema_class in (strawberry.Schema, CachedHooksSchema):
        log: list[str] = []
        recorder = functools.partial(SyncRecorder, log)
        schema = schema_class(query=Query, extensions=[recorder, *extensions])
        try:
            result = schema.execute_sync("{ greeting }")
            outcome: list[Any] = [result.data, [_scrubbed(error.message) for error in result.errors or []]]
        except BaseException as error:
            outcome = ["raised", _scrubbed(repr(error))]
        outcomes.append((outcome, log))
    assert outcomes[0] == outcomes[1]
