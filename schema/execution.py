"""Field execution with a fast path for the fields that need no resolver.

graphql-core runs the same machinery for every field: a `Path`, a resolve-info object, Strawberry's
resolver wrapper, argument coercion and a recursive `complete_value`. A nested lecture list is mostly
attributes read off objects (800 steps x 9 fields), and that machinery was most of its CPU.

So each selection set gets a plan, once per operation, sorting its fields into:
- `__typename`, a constant;
- plain leaves: Strawberry marks the field's resolver as the default one (no resolver, no field
  extensions, no exception handlers), it takes no arguments, and its type is a scalar or enum. The value
  is read with `getattr` and coerced with the type's own `coerce_output_value` (a `str` for String and
  ID, a `bool` for Boolean and an `int` within Int's range are already their own output, and an enum
  member's name is looked up);
- plain objects: the same kind of field returning an object type, completed with its own plan;
- everything else (resolvers, lists, abstract types, arguments), which takes graphql-core's path.

An object whose plain fields all read cleanly is built in one loop. If anything goes wrong in that loop
(an exception, or a null in a non-null field), the object is built again field by field through
graphql-core's own completion, which reports the error exactly as it always has: reading attributes has
no side effects, so reading them twice is safe.
"""

from collections.abc import Callable, Sequence
from enum import EnumMeta
from typing import Any, NamedTuple, Protocol

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
)
from graphql.execution.collect_fields import DeferUsage, FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from graphql.type.scalars import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    serialize_boolean,
    serialize_id,
    serialize_int,
    serialize_string,
)
from strawberry.schema.schema_converter import CustomGraphQLEnumType

from schema.variable_coercion import ListVariablesExecutionContext

# Output values that a coercion returns unchanged: their exact class is checked, not isinstance.
_IDENTITY_CLASSES: dict[Callable[[Any], Any], type] = {
    serialize_string: str,
    serialize_id: str,
    serialize_boolean: bool,
}


class _Fallback(Exception):
    """A null in a non-null plain field: the object is completed again by graphql-core's path."""


class _Lookup(Protocol):
    def __getitem__(self, value: Any, /) -> Any: ...


class _Int32:
    """An int GraphQL's Int can hold is output as itself (what `serialize_int` returns for it, after a
    dozen checks); any other is left to `serialize_int`, to refuse."""

    def __getitem__(self, value: int) -> int:
        if GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
            return value
        raise KeyError(value)


class PlainLeaf(NamedTuple):
    attribute: str
    coerce: Callable[[Any], Any]
    # A value of exactly this class is output as itself, or, with `exact_output`, as what it gives (a
    # KeyError there sends the object down graphql-core's path).
    exact_class: type | None
    exact_output: _Lookup | None
    non_null: bool


# Strawberry's enum coercion compares the value with each of the enum's values in turn, through enum
# properties: the name of each member is worked out once, by that same coercion, per enum type.
_enum_names: dict[int, tuple[CustomGraphQLEnumType, dict[Any, str]]] = {}


def _names_of_members(enum_type: CustomGraphQLEnumType) -> dict[Any, str]:
    known = _enum_names.get(id(enum_type))
    if known is None:
        names: dict[Any, str] = {}
        member: Any
        for member in enum_type.wrapped_cls:
            try:
                names[member] = enum_type.coerce_output_value(member)
            except ValueError:
                # Left to the coercion itself, which raises it again where the value is met.
                continue
        known = _enum_names[id(enum_type)] = (enum_type, names)
    return known[1]


def _plain_leaf(attribute: str, leaf: GraphQLLeafType, non_null: bool) -> PlainLeaf:
    coerce = leaf.coerce_output_value
    if isinstance(leaf, CustomGraphQLEnumType) and isinstance(leaf.wrapped_cls, EnumMeta):
        return PlainLeaf(attribute, coerce, leaf.wrapped_cls, _names_of_members(leaf), non_null)
    if coerce is serialize_int:
        return PlainLeaf(attribute, coerce, int, _Int32(), non_null)
    return PlainLeaf(attribute, coerce, _IDENTITY_CLASSES.get(coerce), None, non_null)


class PlainObject(NamedTuple):
    attribute: str
    plan: "Plan"
    non_null: bool


class FieldStep(NamedTuple):
    response_name: str
    field_details_list: FieldDetailsList
    # None: the field goes through graphql-core's `execute_field`.
    plain: PlainLeaf | PlainObject | str | None


class Plan(NamedTuple):
    steps: list[FieldStep]
    # Whether any field goes through graphql-core's path (and may need awaiting).
    has_resolved: bool


class StudyMateExecutionContext(ListVariablesExecutionContext):
    """Strawberry's execution context, completing resolver-free fields without per-field machinery (and
    coercing batch variables fast: `schema/variable_coercion.py`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed like graphql-core's own memo of collected sub-fields (on the identity of the grouped
        # field set, kept alive beside its plan so the id cannot be reused).
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[GroupedFieldSet, Plan]] = {}
        manager = self.middleware_manager
        self._plain_allowed = manager is None or not manager.middlewares

    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path,
        grouped_field_set: GroupedFieldSet,
        new_defer_usages: Sequence[DeferUsage],
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self._plain_allowed:
            return super().execute_collected_subfields(
                parent_type, source_value, path, grouped_field_set, new_defer_usages, position_context
            )
        return self._execute_plan(parent_type, source_value, path, self._plan(parent_type, grouped_field_set))

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """Lists of objects complete each item with one plan, straight into `_execute_plan`."""
        item_type = return_type.of_type
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if (
            not self._plain_allowed
            or not isinstance(result, list | tuple)
            or not isinstance(object_type, GraphQLObjectType)
            or object_type.is_type_of is not None
        ):
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        grouped_field_set = self.collect_subfields(object_type, field_details_list)[0]
        plan = self._plan(object_type, grouped_field_set)
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        is_awaitable = self.is_awaitable
        try:
            for index, item in enumerate(result):
                item_path = path.add_key(index, None)
                if is_awaitable(item):
                    completed.append(
                        self.complete_awaitable_list_item_value(
                            item, item_type, field_details_list, info, item_path, position_context
                        )
                    )
                    awaitable_indices.append(index)
                    continue
                if item is None or isinstance(item, Exception):
                    if self.complete_list_item_value(
                        item, completed, item_type, field_details_list, info, item_path, position_context
                    ):
                        awaitable_indices.append(index)
                    continue
                try:
                    value = self._execute_plan(object_type, item, item_path, plan)
                except Exception as raw_error:
                    # Raises for a non-null item: the null propagates to the list's nearest nullable parent.
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    value = None
                if plan.has_resolved and is_awaitable(value):
                    value = self._settle_item(value, item_type, field_details_list, item_path)
                    awaitable_indices.append(index)
                completed.append(value)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed
        return self._gather_items(completed, awaitable_indices)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Plan:
        key = (parent_type, id(grouped_field_set))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        steps = [
            FieldStep(name, details, self._plain_field(parent_type, details))
            for name, details in grouped_field_set.items()
        ]
        plan = Plan(steps, any(step.plain is None for step in steps))
        self._plans[key] = (grouped_field_set, plan)
        return plan

    def _plain_field(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList
    ) -> PlainLeaf | PlainObject | str | None:
        node = details[0].node
        field_name = node.name.value
        if field_name == "__typename":
            return parent_type.name
        field_def = self.schema.get_field(parent_type, field_name)
        if field_def is None or field_def.args or node.arguments:
            return None
        definition = field_def.extensions.get("strawberry-definition")
        if definition is None or not getattr(field_def.resolve, "_is_default", False):
            return None
        return_type = field_def.type
        non_null = isinstance(return_type, GraphQLNonNull)
        named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        if is_leaf_type(named):
            return _plain_leaf(definition.python_name, named, non_null)
        if isinstance(named, GraphQLObjectType) and named.is_type_of is None:
            plan = self._plan(named, self.collect_subfields(named, details)[0])
            return None if plan.has_resolved else PlainObject(definition.python_name, plan, non_null)
        return None

    def _execute_plan(
        self, parent_type: GraphQLObjectType, source: Any, path: Path, plan: Plan
    ) -> AwaitableOrValue[dict[str, Any]]:
        try:
            results: dict[str, Any] | None = self._read_plain(source, plan)
        except Exception:
            results = None
        if results is None:
            # Outside the handler, so the errors it reports do not carry the fallback as their context.
            return self._execute_fields(parent_type, source, path, plan, {}, plain_read=False)
        if not plan.has_resolved:
            return results
        return self._execute_fields(parent_type, source, path, plan, results, plain_read=True)

    def _read_plain(self, source: Any, plan: Plan) -> dict[str, Any]:
        """The object's plain fields in one loop; fields left to graphql-core hold a placeholder."""
        results: dict[str, Any] = {}
        for response_name, _details, plain in plan.steps:
            if plain.__class__ is PlainLeaf:
                attribute, coerce, exact_class, exact_output, non_null = plain
                value = getattr(source, attribute)
                if value.__class__ is exact_class:
                    results[response_name] = value if exact_output is None else exact_output[value]
                elif value is None:
                    if non_null:
                        raise _Fallback
                    results[response_name] = None
                else:
                    coerced = coerce(value)
                    if coerced is None or coerced is Undefined or isinstance(value, Exception):
                        raise _Fallback
                    results[response_name] = coerced
            elif plain.__class__ is PlainObject:
                attribute, sub_plan, non_null = plain
                value = getattr(source, attribute)
                if value is None:
                    if non_null:
                        raise _Fallback
                    results[response_name] = None
                else:
                    results[response_name] = self._read_plain(value, sub_plan)
            elif plain is None:
                results[response_name] = None
            else:
                results[response_name] = plain
        return results

    def _execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path,
        plan: Plan,
        results: dict[str, Any],
        plain_read: bool,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's `execute_fields` over the plan: every field but `__typename`, or, when
        `_read_plain` has filled `results` (`plain_read`), only those it left placeholders for."""
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, details, plain in plan.steps:
                if isinstance(plain, str):
                    results[response_name] = plain
                    continue
                if plain_read and plain is not None:
                    continue
                result = self.execute_field(
                    parent_type, source, details, Path(path, response_name, parent_type.name), None
                )
                if result is Undefined:
                    results.pop(response_name, None)
                    continue
                results[response_name] = result
                if is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gather_fields(results, awaitable_fields)

    async def _settle_item(
        self, completed: Any, item_type: GraphQLOutputType, details: FieldDetailsList, item_path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, details, item_path)
            return None

    @staticmethod
    async def _gather_fields(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        if len(awaitable_fields) == 1:
            name = awaitable_fields[0]
            results[name] = await results[name]
            return results
        awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
        return results

    @staticmethod
    async def _gather_items(completed: list[Any], awaitable_indices: list[int]) -> list[Any]:
        awaited = await gather_with_cancel(*(completed[index] for index in awaitable_indices))
        for index, value in zip(awaitable_indices, awaited, strict=True):
            completed[index] = value
        return completed
