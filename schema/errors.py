"""Turns domain errors into GraphQL errors with `extensions.code`, and masks everything else."""

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult

from core.errors import DomainError, ErrorCode
from core.logging import is_sensitive, request_id_var

logger = logging.getLogger("studymate.errors")


@runtime_checkable
class _ResultWithErrors(Protocol):
    """Strawberry's and graphql-core's result types alike."""

    errors: list[GraphQLError] | None


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


class StudyMateSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Parse failures skip the extensions' hooks, so their codes are added here.

        Nothing is logged here: expected failures are the client's, and `DomainErrors` logs the rest.
        """
        for error in errors:
            if is_client_error(error):
                tag_client_error(error)


class DomainErrors(SchemaExtension):
    """Converts every error of a result, through Strawberry's public hooks: `on_operation` for a single
    result (queries and mutations over HTTP), `on_stream_result` for each result of a stream
    (subscriptions, and any operation over a websocket)."""

    error_message = "Internal server error"

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

    def _convert_result(self, result: object) -> None:
        if isinstance(result, _ResultWithErrors) and result.errors:
            result.errors = [self._convert(error) for error in result.errors]

    def _convert(self, error: GraphQLError) -> GraphQLError:
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
        extensions: dict[str, object] = {
            "code": ErrorCode.INTERNAL_SERVER_ERROR.value,
            "requestId": request_id,
        }
        return _with(error, self.error_message, extensions)
