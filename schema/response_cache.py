"""Serves repeated read queries of lecture content from the response cache (core/response_cache.py).

An operation is served from the cache only when it is a query over HTTP whose every field is in
CACHEABLE: the lecture → task → step tree, read from tables that bump the content version when written
(models/classroom.py). Anything else (sessions, enrolments, users beyond their id) runs as usual. The
key holds the content version, the document, the operation name, the variables and the caller (user id
and role, participant, or anonymous), so an answer is never served to anyone but the kind of caller it
was computed for. Only answers without errors are kept. Off unless RESPONSE_CACHE is set.
"""

import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable

from graphql import (
    BREAK,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLSchema,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_operation_ast,
    visit,
)
from strawberry.extensions import SchemaExtension

from core.auth import ParticipantActor, UserActor
from core.errors import DomainError
from core.response_cache import content_version, store
from core.settings import get_settings
from schema.context import Context

# Fields (by parent type) whose values come only from the tables that bump the content version.
CACHEABLE: dict[str, frozenset[str]] = {
    "Query": frozenset({"lectures", "lecture", "task"}),
    "LectureConnection": frozenset({"edges", "pageInfo"}),
    "LectureEdge": frozenset({"cursor", "node"}),
    "PageInfo": frozenset({"hasNextPage", "endCursor"}),
    "Lecture": frozenset({"id", "title", "description", "isActive", "instructor", "tasks"}),
    "User": frozenset({"id"}),
    "Task": frozenset({"id", "title", "description", "lecture", "steps"}),
    "Step": frozenset(
        {
            "id",
            "order",
            "title",
            "description",
            "targetAction",
            "guideText",
            "voiceGuideText",
            "targetHint",
            "version",
            "removed",
        }
    ),
    "UiTarget": frozenset({"viewId", "text", "contentDescription", "bounds", "packageName", "className"}),
}
_DECISIONS = 512


class _Check(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.cacheable = True
        self.reads_content = False

    def enter_field(self, node: FieldNode, *_args: object) -> object:
        name = node.name.value
        if name == "__typename":
            return None
        self.reads_content = True
        parent = self.type_info.get_parent_type()
        if parent is None or name not in CACHEABLE.get(parent.name, frozenset()):
            self.cacheable = False
            return BREAK
        return None


def cacheable(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> bool:
    """A query whose every field (in any operation or fragment of the document) is in CACHEABLE, and that
    reads some: `{ __typename }` costs less to run than a look-up of the content version."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return False
    type_info = TypeInfo(schema)
    check = _Check(type_info)
    visit(document, TypeInfoVisitor(type_info, check))
    return check.cacheable and check.reads_content


_decisions: OrderedDict[tuple[str, str | None], bool] = OrderedDict()


def _cacheable_once(schema: GraphQLSchema, query: str, document: DocumentNode, name: str | None) -> bool:
    key = (query, name)
    decision = _decisions.get(key)
    if decision is None:
        decision = _decisions[key] = cacheable(schema, document, name)
        if len(_decisions) > _DECISIONS:
            _decisions.popitem(last=False)
    return decision


def caller_scope(context: Context) -> str | None:
    """Who the answer is for; None when the caller's token is bad (the operation must run and fail)."""
    try:
        actor = context.actor
    except DomainError:
        return None
    if isinstance(actor, UserActor):
        return f"user:{actor.user_id}:{actor.role.value}"
    if isinstance(actor, ParticipantActor):
        return f"participant:{actor.participant_id}"
    return "anonymous"


class ResponseCache(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        key = await self._key() if get_settings().response_cache else None
        hit = store().get(key) if key is not None else None
        if hit is not None:
            self.execution_context.result = ExecutionResult(data=hit, errors=None)  # type: ignore[arg-type]  # data was a dict when stored
        yield
        result = self.execution_context.result
        fresh = key is not None and hit is None and isinstance(result, ExecutionResult)
        if fresh and isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
            store().put(key, result.data)

    async def _key(self) -> Hashable | None:
        execution = self.execution_context
        context = execution.context
        document = execution.graphql_document
        if (
            not isinstance(context, Context)
            or context.is_websocket
            or document is None
            or execution.query is None
            or execution.pre_execution_errors
        ):
            return None
        scope = caller_scope(context)
        if scope is None:
            return None
        schema = execution.schema._schema
        if not _cacheable_once(schema, execution.query, document, execution.operation_name):
            return None
        variables = json.dumps(execution.variables or {}, sort_keys=True, separators=(",", ":"))
        return (await content_version(), execution.query, execution.operation_name, variables, scope)
