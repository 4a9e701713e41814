"""The cached-hooks runner runs extensions exactly as Strawberry's own runner does.

An extension with one hook of every kind (generator, async generator, plain function, coroutine, a
stream-result hook, reported results) records what it sees; the same operations run on a schema with
Strawberry's runner and on one with ours, and the records and results must be identical, including when
a resolver fails, the document does not parse, or a subscription streams.
"""

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
