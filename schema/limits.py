"""What a GraphQL request may be before anything runs it: a JSON object of the right shape, with no list in
its variables longer than a limit (refusals are Strawberry's HTTPException, 400, which the view answers as
a GraphQL error with a code), and no deeper than the depth limit."""

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from cross_web import HTTPException
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    ValidationContext,
    ValidationRule,
    Visitor,
    visit,
)
from strawberry.extensions import QueryDepthLimiter
from strawberry.http import GraphQLRequestData

from core import jsonio
from core.errors import BadInput

# Reading a body this large takes long enough to be worth a thread; smaller ones are read in place.
_THREAD_BODY_BYTES = 64 * 1024


def _parse(body: bytes, max_list_items: int) -> GraphQLRequestData:
    try:
        data = jsonio.loads(body)
    except (ValueError, RecursionError) as error:
        # ValueError covers malformed JSON and bad UTF-8; RecursionError, nesting deeper than Python's stack.
        raise HTTPException(400, "Unable to parse request body as JSON") from error
    if isinstance(data, list):
        raise HTTPException(400, "Batching is not enabled")
    if not isinstance(data, dict):
        raise HTTPException(400, "The request body must be a JSON object")
    parsed = request_data(data)
    check_variables(parsed.variables, max_list_items)
    return parsed


async def parse_body(body: bytes, max_list_items: int) -> GraphQLRequestData:
    """The GraphQL request in a JSON body (the body limit has already bounded its size), its variables
    checked. Decoding and walking a large body is CPU work, done in a thread off the event loop."""
    if len(body) > _THREAD_BODY_BYTES:
        return await asyncio.to_thread(_parse, body, max_list_items)
    return _parse(body, max_list_items)


def request_data(data: Mapping[str, Any]) -> GraphQLRequestData:
    query = data.get("query")
    if not isinstance(query, str | None):
        raise HTTPException(400, "The GraphQL operation's `query` must be a string or null, if provided.")
    operation_name = data.get("operationName")
    if not isinstance(operation_name, str | None):
        raise HTTPException(400, "`operationName` must be a string or null, if provided.")
    variables = data.get("variables")
    if not isinstance(variables, dict | None):
        raise HTTPException(
            400, "The GraphQL operation's `variables` must be an object or null, if provided."
        )
    extensions = data.get("extensions")
    if not isinstance(extensions, dict | None):
        raise HTTPException(
            400, "The GraphQL operation's `extensions` must be an object or null, if provided."
        )
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=operation_name,
        extensions=extensions,
        protocol="http",
    )


# A position in the variables as a chain of (parent, key) links, turned into text only for an error.
_Path = tuple["_Path", str | int] | None


def _dotted(path: _Path) -> str:
    keys: list[str] = []
    while path is not None:
        path, key = path
        keys.append(str(key))
    return ".".join(reversed(keys))


def _holds_long_list(variables: object, max_items: int) -> bool:
    """Whether any list in `variables` is longer than `max_items`: `check_variables`'s walk without the
    paths, which only a refusal needs (a batch of 500 events is read in half the time)."""
    pending = [variables]
    while pending:
        value = pending.pop()
        items: Iterable[object]
        if isinstance(value, list):
            if len(value) > max_items:
                return True
            items = value
        elif isinstance(value, dict):
            items = value.values()
        else:
            continue
        pending += [item for item in items if isinstance(item, (list, dict))]
    return False


def check_variables(variables: object, max_items: int) -> None:
    """Raises BadInput naming the first list in `variables` longer than `max_items`.

    Runs before GraphQL coerces the variables, so an oversized list costs one length check, not a
    coercion of every item. Iterative: the nesting depth of client JSON must not reach Python's stack.
    """
    if not _holds_long_list(variables, max_items):
        return
    pending: list[tuple[object, _Path]] = [(variables, None)]
    while pending:
        value, path = pending.pop()
        children: list[tuple[str | int, object]]
        if isinstance(value, list):
            if len(value) > max_items:
                field = _dotted(path)
                message = f"Variable ${field} holds {len(value)} items; at most {max_items} are accepted"
                raise BadInput(message, field=field)
            children = list(enumerate(value))
        elif isinstance(value, dict):
            children = list(value.items())
        else:
            continue
        pending.extend((item, (path, key)) for key, item in children if isinstance(item, list | dict))


class _FragmentSpreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: object) -> None:
        self.names.add(node.name.value)


def _spreads_only_defined_fragments(document: DocumentNode) -> bool:
    spreads = _FragmentSpreads()
    visit(document, spreads)
    defined = {d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return spreads.names <= defined


def depth_limit(max_depth: int) -> QueryDepthLimiter:
    """Strawberry's depth limiter, except on a document that spreads a fragment it does not define: there
    the limiter crashes (KeyError), while GraphQL's own KnownFragmentNames rule refuses the document with
    a proper validation error."""
    limiter = QueryDepthLimiter(max_depth=max_depth)
    [depth_rule] = limiter.validation_rules

    class DepthOfKnownFragments(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            if _spreads_only_defined_fragments(context.document):
                # The depth rule does all its work, reporting to the context, when it is built.
                depth_rule(context)

    limiter.validation_rules = [DepthOfKnownFragments]
    return limiter
