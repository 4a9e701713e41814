"""Batch variables coerced by their plans give exactly what graphql-core's coercion gives: the same values
(keys, order, types) and sources for good input, the same errors (messages, locations, paths) for bad.

Each case runs through both execution contexts' `build`, the step that coerces variables; a test also
checks that the plans really took the good cases, so the comparison is not of graphql-core with itself.
"""

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import strawberry
from graphql import GraphQLError, GraphQLSchema, parse, type_from_ast
from graphql.execution import Executor
from strawberry.scalars import JSON
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from bench.ingest import APPEND, batches
from schema import build_schema
from schema.execution import StudyMateExecutionContext
from schema.scalars import SCALAR_OVERRIDES
from schema.variable_coercion import coerce_list_variables, plan_for


@strawberry.enum
class Gesture(enum.Enum):
    TAP = "tap"
    SWIPE = "swipe"


@strawberry.input
class EventInput:
    event_id: strawberry.ID
    gesture: Gesture
    at: datetime
    count: int = 3
    tag: str = "default"
    ratio: float | None = None
    label: str | None = None
    flag: bool | None = None
    data: JSON | None = None


@strawberry.input
class NestedInput:
    """Not a batch of leaves: graphql-core alone coerces it."""

    event: EventInput


@strawberry.type
class Query:
    @strawberry.field
    def strict(self, events: list[EventInput], n: int = 0) -> int:
        return len(events) + n

    @strawberry.field
    def loose(self, events: list[EventInput | None] | None = None) -> int:
        return len(events or [])

    @strawberry.field
    def nested(self, events: list[NestedInput]) -> int:
        return len(events)


SCHEMA = strawberry.Schema(query=Query, scalar_overrides=SCALAR_OVERRIDES)._schema
STRICT_TEXT = "query ($events: [EventInput!]!, $n: Int! = 1) { strict(events: $events, n: $n) }"
STRICT = parse(STRICT_TEXT)
LOOSE = parse("query ($events: [EventInput]) { loose(events: $events) }")
NESTED = parse("query ($events: [NestedInput!]!) { nested(events: $events) }")
AT = "2026-11-29T10:00:00.123456+00:00"


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"eventId": "e1", "gesture": "TAP", "at": AT}
    event.update(changes)
    return {name: value for name, value in event.items() if value is not _ABSENT}


_ABSENT = object()

GOOD: dict[str, tuple[Any, dict[str, Any]]] = {
    "required fields only, defaults filled in": (STRICT, {"events": [_event()]}),
    "every field": (
        STRICT,
        {
            "events": [
                _event(count=7, tag="t", ratio=0.5, label="l", flag=True, data={"a": [1, {"b": None}]}),
                _event(eventId="e2", gesture="SWIPE", count=0, ratio=None, label=None, flag=False),
            ],
            "n": 4,
        },
    ),
    "values their scalars convert": (
        STRICT,
        {
            "events": [
                _event(eventId=7, ratio=2, at="2026-11-29T19:00:00+09:00"),
                _event(at="2026-11-29 10:00"),
            ]
        },
    ),
    "null items in a list of nullable items": (LOOSE, {"events": [None, _event(), None]}),
    "explicit nulls in nullable fields": (STRICT, {"events": [_event(label=None, data=None, flag=None)]}),
}

BAD: dict[str, tuple[Any, dict[str, Any]]] = {
    "a null in a non-null field": (STRICT, {"events": [_event(), _event(eventId=None)]}),
    "a null in a non-null field with a default": (STRICT, {"events": [_event(count=None)]}),
    "a missing required field": (STRICT, {"events": [_event(gesture=_ABSENT)]}),
    "an unknown field": (STRICT, {"events": [_event(colour="red")]}),
    "a string for an Int": (STRICT, {"events": [_event(count="3")]}),
    "an Int out of range": (STRICT, {"events": [_event(count=2**40)]}),
    "a number for a String": (STRICT, {"events": [_event(label=5)]}),
    "a string for a Boolean": (STRICT, {"events": [_event(flag="yes")]}),
    "a boolean for an ID": (STRICT, {"events": [_event(eventId=True)]}),
    "an unknown enum value": (STRICT, {"events": [_event(gesture="JUMP")]}),
    "an enum's Python value": (STRICT, {"events": [_event(gesture="tap")]}),
    "a bad DateTime": (STRICT, {"events": [_event(at="yesterday")]}),
    "a null item in a list of non-null items": (STRICT, {"events": [_event(), None]}),
    "an item that is not an object": (STRICT, {"events": [_event(), "event"]}),
    "errors in several items": (STRICT, {"events": [_event(count="x"), _event(), _event(gesture="X")]}),
    "a good list beside a bad variable": (STRICT, {"events": [_event()], "n": "four"}),
    "a nested input": (NESTED, {"events": [{"event": _event(count="x")}]}),
}

# Good values that the plans leave to graphql-core.
LEFT: dict[str, tuple[Any, dict[str, Any]]] = {
    "an object for the list, a list of one": (STRICT, {"events": _event()}),
    "a null list": (LOOSE, {"events": None}),
    "an empty list": (STRICT, {"events": []}),
    "a nested input": (NESTED, {"events": [{"event": _event()}]}),
}


def _build(context: type[Executor[Any]], schema: GraphQLSchema, document: Any, variables: Any) -> Any:
    built = context.build(schema, document, raw_variable_values=orjson.loads(orjson.dumps(variables)))
    if isinstance(built, list):
        return [error.formatted for error in built]
    values = built.variable_values
    # repr, so key order and exact types count as well as equality.
    return repr(values.coerced), {name: source.value for name, source in values.sources.items()}


def _both(schema: GraphQLSchema, document: Any, variables: Any) -> tuple[Any, Any]:
    expected = _build(StrawberryGraphQLCoreExecutionContext, schema, document, variables)
    return _build(StudyMateExecutionContext, schema, document, variables), expected


@pytest.mark.parametrize("name", GOOD)
def test_good_batches_coerce_as_graphql_core_does(name: str) -> None:
    document, variables = GOOD[name]
    assert "events" in coerce_list_variables(SCHEMA, document, None, variables)
    actual, expected = _both(SCHEMA, document, variables)
    assert not isinstance(expected, list)
    assert actual == expected


@pytest.mark.parametrize("name", BAD)
def test_bad_batches_fail_as_graphql_core_fails(name: str) -> None:
    document, variables = BAD[name]
    actual, expected = _both(SCHEMA, document, variables)
    assert isinstance(expected, list)
    assert expected
    assert actual == expected


@pytest.mark.parametrize("name", LEFT)
def test_values_the_plans_leave_coerce_as_graphql_core_does(name: str) -> None:
    document, variables = LEFT[name]
    assert coerce_list_variables(SCHEMA, document, None, variables) == {}
    actual, expected = _both(SCHEMA, document, variables)
    assert not isinstance(expected, list)
    assert actual == expected


def test_a_bad_item_is_reported_by_graphql_core() -> None:
    # The comparison above would pass if both paths were wrong in the same way: pin one down.
    errors = StudyMateExecutionContext.build(
        SCHEMA, STRICT, raw_variable_values={"events": [_event(), _event(count=None)]}
    )
    assert isinstance(errors, list)
    assert all(isinstance(error, GraphQLError) for error in errors)
    assert [error.message for error in errors] == [
        "Variable '$events' has invalid value at [1].count: Expected value of non-null type 'Int!' "
        "not to be None."
    ]


def test_recording_events_coerce_as_graphql_core_does() -> None:
    schema = build_schema()._schema
    document = parse(APPEND)
    events = batches(20, 20)[0]
    events[3].update(text="x\ny", isSensitive=True, data={"isPassword": True}, bounds="[0,0][1,1]")
    events[4]["occurredAt"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    variables = {"id": "r", "events": events}
    assert "events" in coerce_list_variables(schema, document, None, variables)
    actual, expected = _both(schema, document, variables)
    assert actual == expected
    events[5]["isSensitive"] = "no"
    actual, expected = _both(schema, document, variables)
    assert isinstance(expected, list)
    assert actual == expected


def test_a_plan_is_made_once_per_input_type() -> None:
    # Each operation builds its variables' list and non-null wrappers afresh: the plan must not be
    # keyed on them, or every request would make one, and keep it.
    types = [
        type_from_ast(SCHEMA, parse(STRICT_TEXT).definitions[0].variable_definitions[0].type)  # type: ignore[attr-defined]
        for _ in range(2)
    ]
    assert types[0] is not types[1]
    plans = [plan_for(var_type) for var_type in types]  # type: ignore[arg-type]
    assert plans[0] is not None
    assert plans[1] is not None
    assert plans[0].item is plans[1].item
