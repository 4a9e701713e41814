"""Coercion of list-of-input-object variables in one tight loop, with graphql-core as the judge.

graphql-core coerces a variable value recursively: per item and per field it re-dispatches on the type's
kind, looks the field up, and before that walks the whole value once more to bound its nesting. For a
batch of 500 events of 11 fields that was about a third of the api's CPU per request
(`appendRecordingEvents`, `logActivity`).

A variable whose type is a list of an input object with leaf fields only gets a plan, once per type: per
field its name, out name, the leaf's own `coerce_input_value`, whether it is non-null or required, and
its default. A well-formed value is coerced by the plan into exactly what graphql-core builds (the same
coercion functions, the same keys in the same order, the same `out_type`). Anything else (a missing
required field, an unknown one, a null in a non-null field, a value its scalar refuses, a value that is
not a list, an item that is not an object) makes the plan give up, and the variable goes to graphql-core
untouched, which then coerces it or reports its errors exactly as it always has. The plan never decides
that a value is invalid.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from graphql import (
    GraphQLError,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    is_leaf_type,
    is_required_input_field,
    type_from_ast,
)
from graphql.execution import Executor
from graphql.language import DocumentNode
from graphql.pyutils import Undefined
from graphql.type.scalars import coerce_boolean, coerce_id, coerce_string
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# Input coercions that return a value of this exact class unchanged.
_IDENTITY_CLASSES: dict[Callable[[Any], Any], type] = {
    coerce_string: str,
    coerce_id: str,
    coerce_boolean: bool,
}


class _GiveUp(Exception):
    """The value is not of the well-formed kind the plan handles: graphql-core coerces it."""


class _Field(NamedTuple):
    name: str
    out_name: str
    coerce: Callable[[Any], Any]
    identity_class: type | None
    non_null: bool
    required: bool
    # What graphql-core puts in for an absent field (Undefined: nothing). It memoizes a coerced default
    # on the field, so it too gives every item the same object.
    default: Any


class ObjectPlan(NamedTuple):
    names: frozenset[str]
    fields: tuple[_Field, ...]
    out_type: Callable[[dict[str, Any]], Any]


class ListPlan(NamedTuple):
    item_non_null: bool
    item: ObjectPlan


# By input object type: a schema's named types live as long as it does, while the list and non-null
# wrappers of a variable's type are built afresh for every operation.
_object_plans: dict[GraphQLInputObjectType, ObjectPlan | None] = {}


def _field(name: str, field: GraphQLInputField) -> _Field | None:
    non_null = isinstance(field.type, GraphQLNonNull)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not is_leaf_type(named):
        return None
    leaf: GraphQLLeafType = named
    coerce = leaf.coerce_input_value
    try:
        default = coerce_default_value(field)
    except TypeError:
        # An invalid default, which graphql-core reports when a value needs it.
        return None
    return _Field(
        name,
        field.out_name or name,
        coerce,
        _IDENTITY_CLASSES.get(coerce),
        non_null,
        is_required_input_field(field),
        default,
    )


def _object_plan(object_type: GraphQLInputObjectType) -> ObjectPlan | None:
    """A plan for an input object (not OneOf) whose fields are all leaves; None for any other."""
    if object_type.is_one_of:
        return None
    fields = []
    for name, definition in object_type.fields.items():
        field = _field(name, definition)
        if field is None:
            return None
        fields.append(field)
    return ObjectPlan(frozenset(object_type.fields), tuple(fields), object_type.out_type)


def plan_for(var_type: GraphQLInputType) -> ListPlan | None:
    """A plan for `[T]`, `[T!]`, `[T]!` or `[T!]!` where T is an input object with a plan; None for any
    other type."""
    list_type = var_type.of_type if isinstance(var_type, GraphQLNonNull) else var_type
    if not isinstance(list_type, GraphQLList):
        return None
    item_type = list_type.of_type
    object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
    if not isinstance(object_type, GraphQLInputObjectType):
        return None
    try:
        item = _object_plans[object_type]
    except KeyError:
        item = _object_plans[object_type] = _object_plan(object_type)
    return None if item is None else ListPlan(isinstance(item_type, GraphQLNonNull), item)


def coerce_list(plan: ListPlan, value: Any) -> list[Any]:
    """`value` as graphql-core's `coerce_input_value` coerces it; raises `_GiveUp` on anything unusual."""
    if not isinstance(value, list):
        raise _GiveUp
    names, fields, out_type = plan.item
    coerced_list: list[Any] = []
    for item in value:
        if item is None:
            if plan.item_non_null:
                raise _GiveUp
            coerced_list.append(None)
            continue
        if not isinstance(item, dict) or not names.issuperset(item):
            raise _GiveUp
        coerced: dict[str, Any] = {}
        for name, out_name, coerce, identity_class, non_null, required, default in fields:
            field_value = item.get(name, Undefined)
            if field_value.__class__ is identity_class:
                coerced[out_name] = field_value
            elif field_value is None:
                if non_null:
                    raise _GiveUp
                coerced[out_name] = None
            elif field_value is Undefined:
                if required:
                    raise _GiveUp
                if default is not Undefined:
                    coerced[out_name] = default
            else:
                try:
                    leaf_value = coerce(field_value)
                except Exception as error:
                    raise _GiveUp from error
                if leaf_value is Undefined:
                    raise _GiveUp
                coerced[out_name] = leaf_value
        coerced_list.append(out_type(coerced))
    return coerced_list


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation graphql-core will run, when there is exactly one candidate."""
    found = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None
            or (definition.name is not None and definition.name.value == operation_name)
        )
    ]
    return found[0] if len(found) == 1 else None


def coerce_list_variables(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    raw_variable_values: Mapping[str, Any] | None,
) -> dict[str, list[Any]]:
    """The list-of-input-object variables of the operation that the plans coerce, by name."""
    if not raw_variable_values:
        return {}
    operation = _operation(document, operation_name)
    if operation is None:
        return {}
    coerced: dict[str, list[Any]] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        value = raw_variable_values.get(name)
        if not isinstance(value, list) or not value:
            continue
        var_type = type_from_ast(schema, definition.type)
        if var_type is None:
            continue
        plan = plan_for(var_type)  # type: ignore[arg-type]  # an output type has no plan either
        if plan is None:
            continue
        try:
            coerced[name] = coerce_list(plan, value)
        except (_GiveUp, GraphQLError):
            continue
    return coerced


class ListVariablesExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, coercing list-of-input-object variables with their plans.

    graphql-core coerces every variable as always, except that a variable the plans coerced reaches it
    as an empty list (always valid for a list type, and coerced in no time); the plans' value then takes
    its place, with the value the client sent as its source. Any other variable's errors are graphql-core's
    own, and a variable the plans gave up on is coerced, or refused, by graphql-core alone."""

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[GraphQLError] | Executor[Any]:
        coerced = coerce_list_variables(schema, document, operation_name, raw_variable_values)
        if not coerced or raw_variable_values is None:
            return super().build(
                schema,
                document,
                root_value,
                context_value,
                raw_variable_values,
                operation_name,
                *args,
                **kwargs,
            )
        stand_ins = {**raw_variable_values, **{name: [] for name in coerced}}
        executor = super().build(
            schema, document, root_value, context_value, stand_ins, operation_name, *args, **kwargs
        )
        if isinstance(executor, list):
            return executor
        values = executor.variable_values
        for name, value in coerced.items():
            values.coerced[name] = value
            values.sources[name] = values.sources[name]._replace(value=raw_variable_values[name])
        return executor
