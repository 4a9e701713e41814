"""Strawberry's extension runner, without its per-request hook discovery and context-manager machinery.

For every operation and phase, Strawberry asks `inspect` what kind of function each extension's hook is,
wraps it in a freshly decorated context manager and enters them all on an exit stack: with five
extensions and four phases, that machinery cost more than the hooks themselves. Which kind a hook is
depends only on the extension's class, so here each phase's hooks are worked out once per tuple of
extension classes, and a phase drives its hooks' generators itself: `next` on entry and again on exit,
in reverse order. Whenever a hook misbehaves or an exception is in flight, the hooks still open are
handed to contextlib's own context managers and exit stack, so errors, suppression and exception
context come out exactly as under Strawberry's `SchemaExtensionsRunner`.
"""

import contextlib
import inspect
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum, auto
from types import TracebackType
from typing import Any, cast

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    OperationContextManager,
    ParsingContextManager,
    StreamResultContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult


class Kind(Enum):
    GENERATOR = auto()
    ASYNC_GENERATOR = auto()
    # A plain hook runs on entry, as Strawberry's `from_callable` runs it.
    CALL = auto()
    ASYNC_CALL = auto()


Hook = tuple[int, Callable[..., Any], Kind]

_OPERATION = SchemaExtension.on_operation.__name__
_PARSE = SchemaExtension.on_parse.__name__
_VALIDATE = SchemaExtension.on_validate.__name__
_EXECUTE = SchemaExtension.on_execute.__name__
_STREAM_RESULT = SchemaExtension.on_stream_result.__name__


def hook_kind(
    extension_class: type[SchemaExtension], hook_name: str
) -> tuple[Callable[..., Any], Kind] | None:
    """How `extension_class` takes part in the phase `hook_name`, or None when it does not override it."""
    hook = getattr(extension_class, hook_name)
    if hook is getattr(SchemaExtension, hook_name):
        return None
    if inspect.isgeneratorfunction(hook):
        return hook, Kind.GENERATOR
    if inspect.isasyncgenfunction(hook):
        return hook, Kind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(hook):
        return hook, Kind.ASYNC_CALL
    if callable(hook):
        return hook, Kind.CALL
    raise ValueError(f"Hook {hook_name} on {extension_class} must be callable, received {hook!r}")


_plans: dict[tuple[tuple[type[SchemaExtension], ...], str], tuple[Hook, ...]] = {}


def _plan(classes: tuple[type[SchemaExtension], ...], hook_name: str) -> tuple[Hook, ...]:
    key = (classes, hook_name)
    plan = _plans.get(key)
    if plan is None:
        found = ((index, hook_kind(cls, hook_name)) for index, cls in enumerate(classes))
        plan = _plans[key] = tuple((index, *kind) for index, kind in found if kind is not None)
    return plan


def _as_context_manager(generator: Any) -> Any:
    """A started generator in contextlib's own context manager, for contextlib's exit semantics."""
    if inspect.isasyncgen(generator):
        manager: Any = contextlib._AsyncGeneratorContextManager.__new__(
            contextlib._AsyncGeneratorContextManager
        )
    else:
        manager = contextlib._GeneratorContextManager.__new__(contextlib._GeneratorContextManager)
    manager.gen = generator
    return manager


class _Phase:
    """One phase of one operation: its hooks entered in order and left in reverse."""

    __slots__ = ("_arguments", "_extensions", "_hook_name", "_hooks", "_open", "_sync_stack")

    def __init__(
        self,
        extensions: Sequence[SchemaExtension],
        classes: tuple[type[SchemaExtension], ...],
        hook_name: str,
        *arguments: Any,
    ) -> None:
        self._extensions = extensions
        self._hook_name = hook_name
        self._hooks = _plan(classes, hook_name)
        self._arguments = arguments
        self._open: list[Any] = []

    async def __aenter__(self) -> None:
        opened = self._open
        for index, hook, kind in self._hooks:
            extension = self._extensions[index]
            if kind is Kind.GENERATOR:
                generator = hook(extension, *self._arguments)
                try:
                    next(generator)
                except StopIteration:
                    raise RuntimeError("generator didn't yield") from None
                opened.append(generator)
            elif kind is Kind.ASYNC_GENERATOR:
                async_generator = hook(extension, *self._arguments)
                try:
                    await anext(async_generator)
                except StopAsyncIteration:
                    raise RuntimeError("generator didn't yield") from None
                opened.append(async_generator)
            elif kind is Kind.CALL:
                hook(extension, *self._arguments)
            else:
                await cast("Awaitable[object]", hook(extension, *self._arguments))

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        # Like Strawberry's phases, never suppresses: what a hook swallows still reaches the caller.
        opened = self._open
        if kind is not None:
            await self._unwind(kind, error, traceback)
            return
        while opened:
            generator = opened.pop()
            failure: BaseException
            try:
                if inspect.isasyncgen(generator):
                    await anext(generator)
                else:
                    next(generator)
            except (StopIteration, StopAsyncIteration):
                continue
            except BaseException as raised:
                failure = raised
            else:
                failure = RuntimeError("generator didn't stop")
            # As an exit stack does: the hooks still open see the failure, and may suppress it.
            if not await self._unwind(type(failure), failure, failure.__traceback__):
                raise failure
            return

    async def _unwind(
        self, kind: type[BaseException], error: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        stack = contextlib.AsyncExitStack()
        for generator in self._open:
            manager = _as_context_manager(generator)
            if inspect.isasyncgen(generator):
                stack.push_async_exit(manager)
            else:
                stack.push(manager)
        self._open = []
        return bool(await stack.__aexit__(kind, error, traceback))

    # Synchronous execution (Strawberry's `execute_sync`) goes through contextlib all the way.
    def __enter__(self) -> None:
        stack = self._sync_stack = contextlib.ExitStack()
        for index, hook, kind in self._hooks:
            extension = self._extensions[index]
            if kind in (Kind.ASYNC_GENERATOR, Kind.ASYNC_CALL):
                raise RuntimeError(
                    f"SchemaExtension hook {extension}.{self._hook_name} failed to complete synchronously."
                )
            if kind is Kind.GENERATOR:
                stack.enter_context(contextlib.contextmanager(hook)(extension, *self._arguments))
            else:
                hook(extension, *self._arguments)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._sync_stack.__exit__(kind, error, traceback)


def _reports_results(extension: SchemaExtension) -> bool:
    return type(extension).get_results is not SchemaExtension.get_results


class CachedHooksRunner(SchemaExtensionsRunner):
    def __init__(self, execution_context: ExecutionContext, extensions: list[SchemaExtension]) -> None:
        super().__init__(execution_context, extensions)
        self._reporting = [extension for extension in extensions if _reports_results(extension)]
        self._classes = tuple(type(extension) for extension in extensions)

    # Strawberry only enters and leaves what these return.
    def operation(self) -> OperationContextManager:
        return cast("OperationContextManager", _Phase(self.extensions, self._classes, _OPERATION))

    def validation(self) -> ValidationContextManager:
        return cast("ValidationContextManager", _Phase(self.extensions, self._classes, _VALIDATE))

    def parsing(self) -> ParsingContextManager:
        return cast("ParsingContextManager", _Phase(self.extensions, self._classes, _PARSE))

    def executing(self) -> ExecutingContextManager:
        return cast("ExecutingContextManager", _Phase(self.extensions, self._classes, _EXECUTE))

    def on_stream_result(self, result: StreamExecutionResult) -> StreamResultContextManager:
        return cast(
            "StreamResultContextManager", _Phase(self.extensions, self._classes, _STREAM_RESULT, result)
        )

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        # The default `get_results` returns an empty dict: only extensions that override it are asked.
        if not self._reporting and not ctx.extensions_results:
            return {}
        data: dict[str, Any] = {}
        for extension in self._reporting:
            results = extension.get_results()
            data.update(await results if inspect.isawaitable(results) else results)
        data.update(ctx.extensions_results)
        return data
