"""Turns domain errors into GraphQL errors with `extensions.code`, and masks everything else."""

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from core.errors import DomainError, ErrorCode
from core.logging import is_sensitive, request_id_var
from schema.extension_hooks import CachedHooksRunner

logger = logging.getLogger("studymate.errors")


# graphql-core's prefix for a variable that failed coercion: names only, never the value, up to the colon.
_VARIABLE_ERROR = re.compile(
    r"Variable '\$(?P<name>\w+)' has invalid value(?: at (?P<path>(?:\.\w+|\[\d+\])+))?: "
)
_PATH_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")
# The input field a message is about, when it is one level below the path (missing or unknown fields).
_NAMED_FIELD = re.compile(r"include (?:required|unknown) field '(\w+)'")
# graphql-core quotes the whole value it refused after "found:"; the client knows what it sent.
_FOUND_VALUE = re.compile(r"[,;.]? *(?:Found|found): .*\Z", re.DOTALL)


def _with(error: GraphQLError, message: str, extensions: Mapping[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=dict(extensions),
    )


def variable_error(error: GraphQLError) -> GraphQLError | None:
    """A variable that failed coercion (a missing field, a list for a string…) as BAD_USER_INPUT naming
    the variable's path (`input.password`, `events.3.eventId`), or None for any other error.

    The client sent it, so it is neither masked nor logged. Under a sensitive name (a password, a token)
    the message drops graphql-core's detail, which quotes the value.
    """
    node = error.nodes[0] if error.nodes else None
    match = _VARIABLE_ERROR.match(error.message)
    if not isinstance(node, VariableDefinitionNode) or match is None:
        return None
    steps = [match["name"], *(key or index for key, index in _PATH_STEP.findall(match["path"] or ""))]
    if (named := _NAMED_FIELD.search(error.message)) is not None:
        steps.append(named[1])
    field = ".".join(steps)
    message = _FOUND_VALUE.sub(".", error.message)
    if any(is_sensitive(step) for step in steps):
        message = f"Variable '${match['name']}' has an invalid value at {field}"
    return _with(error, message, {"code": ErrorCode.BAD_USER_INPUT.value, "field": field})


def is_client_error(error: GraphQLError) -> bool:
    """Parse and validation errors have no original exception: the client's document is at fault."""
    return error.original_error is None and not (error.extensions and "code" in error.extensions)


def tag_client_error(error: GraphQLError) -> None:
    """Gives a parse or validation error Apollo's code, in place: some answers reuse the very object."""
    # The token limiter reports its refusal as a syntax error too.
    parse_failed = isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error")
    code = "GRAPHQL_PARSE_FAILED" if parse_failed else "GRAPHQL_VALIDATION_FAILED"
    error.extensions = {**(error.extensions or {}), "code": code}


INTERNAL_ERROR_MESSAGE = "Internal server error"


def convert(error: GraphQLError) -> GraphQLError:
    """The error the client sees: a domain error with its code, a client error (parse, validation,
    variables) with Apollo's code, anything else masked as INTERNAL_SERVER_ERROR and logged with the
    request id. An error that already has a code is returned as it is, so converting twice is harmless."""
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    if isinstance(original, DomainError):
        return _with(error, original.message, original.extensions)
    if isinstance(original, InvalidOperationTypeError):
        message = original.as_http_error_reason("this transport")
        return _with(error, message, {"code": ErrorCode.BAD_REQUEST.value})
    if (invalid_variable := variable_error(error)) is not None:
        return invalid_variable
    if is_client_error(error):
        tag_client_error(error)
        return error
    request_id = request_id_var.get()
    logger.error("unexpected error (request %s)", request_id, exc_info=original)
    extensions: dict[str, object] = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id}
    return _with(error, INTERNAL_ERROR_MESSAGE, extensions)


class StudyMateSchema(Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A single result cannot carry a subscription's stream: over HTTP one is refused as BAD_REQUEST
        (websockets use `subscribe`)."""
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES) - {
            OperationType.SUBSCRIPTION
        }
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> CachedHooksRunner:
        return CachedHooksRunner(execution_context, extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Converts every error in place (see `convert`).

        Strawberry calls this for every result with errors, including failures that escape the
        extensions' hooks (a crash while validating), so nothing reaches a client unconverted.
        `DomainErrors` then finds codes on all of them.
        """
        for error in errors:
            converted = convert(error)
            if converted is not error:
                error.message = converted.message
                error.extensions = converted.extensions
                error.original_error = None


class DomainErrors(SchemaExtension):
    """Converts every error of a result (see `convert`), through Strawberry's public hooks:
    `on_operation` for a single result (queries and mutations over HTTP), `on_stream_result` for each
    result of a stream (subscriptions, and any operation over a websocket). With `StudyMateSchema`, whose
    `process_errors` converts first, it finds nothing left to do; it keeps any other schema safe."""

    error_message = INTERNAL_ERROR_MESSAGE

    def __init__(self) -> None:
        self._streamed = False

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        # A stream's results were converted one by one as they went out; the last one is not done twice.
        if not self._streamed:
            self._convert_result(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        self._convert_result(result)
        yield

    def _convert_result(self, result: GraphQLExecutionResult | StreamExecutionResult | None) -> None:
        if isinstance(result, ExecutionResult | GraphQLExecutionResult) and result.errors:
            result.errors = [convert(error) for error in result.errors]
