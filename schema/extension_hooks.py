"""Strawberry's extension runner, without its per-request hook discovery.

For every operation and phase, Strawberry asks `inspect` what kind of function each extension's hook is
and wraps it in a freshly decorated context manager (`functools.update_wrapper` included): about a third
of a trivial query's CPU. Which kind a hook is depends only on the extension's class, so here it is
worked out once per (class, phase); a request only binds the ready-made context manager factory to its
extension instance. The context managers and their order are Strawberry's own, so hooks behave exactly
as they do under `SchemaExtensionsRunner`.
"""

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    StreamResultContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult

# A context manager factory taking the extension (and, for stream results, the result), and whether it
# is asynchronous.
HookFactory = tuple[Callable[..., Any], bool]


def _called_first(hook: Callable[..., Any]) -> HookFactory:
    """A plain hook runs on entry, as Strawberry's `from_callable` runs it."""
    if inspect.iscoroutinefunction(hook):

        @contextlib.asynccontextmanager
        async def awaited(*arguments: Any) -> AsyncIterator[None]:
            await hook(*arguments)
            yield

        return awaited, True

    @contextlib.contextmanager
    def called(*arguments: Any) -> Iterator[None]:
        hook(*arguments)
        yield

    return called, False


_factories: dict[tuple[type[SchemaExtension], str], HookFactory | None] = {}


def hook_factory(extension_class: type[SchemaExtension], hook_name: str) -> HookFactory | None:
    """How `extension_class` takes part in the phase `hook_name`, or None when it does not override it."""
    key = (extension_class, hook_name)
    if key not in _factories:
        _factories[key] = _factory(extension_class, hook_name)
    return _factories[key]


def _factory(extension_class: type[SchemaExtension], hook_name: str) -> HookFactory | None:
    hook = getattr(extension_class, hook_name)
    if hook is getattr(SchemaExtension, hook_name):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    if callable(hook):
        return _called_first(hook)
    raise ValueError(f"Hook {hook_name} on {extension_class} must be callable, received {hook!r}")


def _bound_hook(manager: ExtensionContextManagerBase, extension: SchemaExtension) -> WrappedHook | None:
    factory = hook_factory(type(extension), manager.HOOK_NAME)
    if factory is None:
        return None
    make, is_async = factory
    return WrappedHook(extension=extension, hook=functools.partial(make, extension), is_async=is_async)


class _Operation(OperationContextManager):
    get_hook = _bound_hook


class _Parsing(ParsingContextManager):
    get_hook = _bound_hook


class _Validation(ValidationContextManager):
    get_hook = _bound_hook


class _Executing(ExecutingContextManager):
    get_hook = _bound_hook


class _StreamResult(StreamResultContextManager):
    get_hook = _bound_hook


def _reports_results(extension: SchemaExtension) -> bool:
    return type(extension).get_results is not SchemaExtension.get_results


class CachedHooksRunner(SchemaExtensionsRunner):
    def __init__(self, execution_context: ExecutionContext, extensions: list[SchemaExtension]) -> None:
        super().__init__(execution_context, extensions)
        self._reporting = [extension for extension in extensions if _reports_results(extension)]

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)

    def on_stream_result(self, result: StreamExecutionResult) -> StreamResultContextManager:
        return _StreamResult(self.extensions, result)

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
