"""Which subscriptions are broadcastable: the fields that declared it, and the documents that consist of
one of them."""

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, OperationType, get_operation_ast, parse

from core.auth import Actor
from core.settings import get_settings

_ROUTES_KEPT = 512


@dataclass(frozen=True)
class Broadcastable:
    """A subscription field whose events after the snapshot may be executed once per cohort."""

    field: str
    # (event, viewer) -> key: the field renders an event from the key alone, so viewers with equal keys
    # get equal results by construction.
    audience: Callable[[Any, Any], Hashable]
    render: Callable[[Any, Any], object]
    seq: Callable[[Any], int]
    # (event, viewer) -> whether the viewer's stream is over after it (the field's own path returns after
    # it too): the session ended, or the viewer left the room.
    ends: Callable[[Any, Any], bool]
    event_name: Callable[[Any], str]


def principal_of(audience: object) -> Actor | None:
    """Whom a shared execution runs as: nobody, unless the audience names (as its `principal`) one viewer
    who may see more of the event than others (their own email, say); every member with that key is them.
    """
    principal: Actor | None = getattr(audience, "principal", None)
    return principal


_declared: dict[str, Broadcastable] = {}


def declare(spec: Broadcastable) -> Broadcastable:
    _declared[spec.field] = spec
    return spec


@dataclass(frozen=True)
class Route:
    spec: Broadcastable
    document: DocumentNode
    document_hash: str


@lru_cache(maxsize=_ROUTES_KEPT)
def _route(query: str, operation_name: str | None) -> Route | None:
    try:
        # Bounded like the schema's token limit: this runs before Strawberry's own checks.
        document = parse(query, max_tokens=get_settings().graphql_max_tokens)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode) or selections[0].directives:
        return None
    spec = _declared.get(selections[0].name.value)
    if spec is None:
        return None
    return Route(spec, document, hashlib.sha256(query.encode()).hexdigest())


def route(payload: dict[str, Any]) -> Route | None:
    """The broadcastable field a subscribe message's operation consists of, or None."""
    query, operation_name = payload.get("query"), payload.get("operationName")
    if not isinstance(query, str) or not isinstance(operation_name, str | None):
        return None
    return _route(query, operation_name)
