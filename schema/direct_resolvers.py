"""Resolvers without arguments are called directly, not through Strawberry's per-call machinery.

For every call Strawberry converts the (absent) arguments, inspects which parameters the resolver asks
for, chains the (absent) field extensions with `functools.reduce`, and, for an async resolver, awaits
it inside a coroutine of its own. A lecture tree calls `Task.steps`, `Lecture.tasks` and
`Lecture.instructor` over a hundred times per request. For a field with no arguments, no field
extensions (permissions are extensions) and no exception handlers, all of that amounts to calling the
resolver with the source and a Strawberry `Info`: that is what the replacement does, once the parameters
it asks for have been worked out at start-up. Exceptions and awaitables reach graphql-core unchanged.
"""

from collections.abc import Callable
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo
from strawberry import Schema
from strawberry.types.field import StrawberryField


def _direct(schema: Schema, field: StrawberryField) -> Callable[..., Any] | None:
    resolver = field.base_resolver
    if (
        resolver is None
        or field.arguments
        or field.extensions
        or field.is_subscription
        # Private, but the only way to know: a handler turns some exceptions into results.
        or schema.schema_converter._get_field_exception_handlers(field)
    ):
        return None
    info_class = schema.config.info_class
    passes_self = resolver.self_parameter is not None
    source_names = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None]
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None

    def resolve(source: Any, info: "GraphQLResolveInfo[Any]") -> Any:
        keywords: dict[str, Any] = dict.fromkeys(source_names, source)
        if info_name is not None:
            keywords[info_name] = info_class(_raw_info=info, _field=field)
        return resolver(source, **keywords) if passes_self else resolver(**keywords)

    return resolve


def call_resolvers_directly(schema: Schema) -> int:
    """Rewires every eligible field of `schema`; returns how many."""
    rewired = 0
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        graphql_field: GraphQLField
        for graphql_field in named.fields.values():
            definition = graphql_field.extensions.get("strawberry-definition")
            if not isinstance(definition, StrawberryField):
                continue
            direct = _direct(schema, definition)
            if direct is not None:
                graphql_field.resolve = direct
                rewired += 1
    return rewired
