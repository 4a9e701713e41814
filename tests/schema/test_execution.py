"""The fast execution path gives exactly what graphql-core's own path gives: data, errors, paths.

A small schema covers each kind of field the plan sorts (plain leaves of every scalar kind, enums, plain
objects, `__typename`, resolvers, lists, async resolvers) and every way a field can fail; each document
runs through both execution contexts and the results must be identical.
"""

import asyncio
import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult

from schema.execution import StudyMateExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Hint:
    view_id: str | None
    bounds: str


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    size: int
    ratio: float
    active: bool
    colour: Colour
    at: datetime
    note: str | None
    hint: Hint | None
    required_hint: Hint

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return f"later {self.name}"

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times

    @strawberry.field
    async def broken(self) -> str:
        raise ValueError(f"broken {self.name}")


@strawberry.type
class Box:
    label: str
    items: list[Item]
    maybe_items: list[Item | None]
    strict_items: list[Item]
    odd_items: list[Item | None] = strawberry.field(default_factory=list)

    @strawberry.field
    async def async_items(self) -> list[Item]:
        await asyncio.sleep(0)
        return self.items


def _item(n: int, **changes: Any) -> Item:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"i{n}"),
        "name": f"item {n}",
        "size": n,
        "ratio": n / 3,
        "active": n % 2 == 0,
        "colour": Colour.RED if n % 2 else Colour.BLUE,
        "at": datetime(2026, 11, 29, 12, n, tzinfo=UTC),
        "note": None if n % 3 else f"note {n}",
        "hint": Hint(view_id=f"v{n}", bounds="[0,0][1,1]") if n % 2 else None,
        "required_hint": Hint(view_id=None, bounds="[1,1][2,2]"),
    }
    values.update(changes)
    return Item(**values)


class Unreadable:
    """An attribute that raises when read, as a property with a bug would."""

    @property
    def name(self) -> str:
        raise RuntimeError("cannot read the name")


@dataclass
class BadItem(Unreadable):
    id: str = "bad"


@strawberry.type
class Query:
    @strawberry.field
    def box(self) -> Box:
        items = [_item(n) for n in range(1, 6)]
        return Box(label="box", items=items, maybe_items=[items[0], None], strict_items=items)

    @strawberry.field
    def broken_box(self) -> Box | None:
        # A null in a non-null leaf, an out-of-range Int, a null in a non-null object, an unreadable
        # attribute: each in a list of non-null items, so the errors propagate.
        items = [
            _item(1),
            _item(2, name=None),
            _item(3, size=2**40),
            _item(4, required_hint=None),
        ]
        # And each kind of failure alone in a nullable item, so that every one of them is reported.
        odd: list[Item | None] = [
            _item(5, name=None),
            _item(6, size=2**40),
            _item(7, ratio=float("nan")),
            _item(8, required_hint=None),
            _item(9, active="yes"),
            _item(10),
        ]
        return Box(
            label="broken", items=items, maybe_items=[_item(5, name=None)], strict_items=[], odd_items=odd
        )

    @strawberry.field
    def unreadable(self) -> list[Item | None]:
        return [_item(1), BadItem()]  # type: ignore[list-item]


fast = strawberry.Schema(query=Query, execution_context_class=StudyMateExecutionContext)
slow = strawberry.Schema(query=Query)

DOCUMENTS = {
    "every leaf kind": """{ box { label items { __typename id name size ratio active colour at note
        hint { viewId bounds __typename } requiredHint { bounds } } } }""",
    "aliases, fragments and directives": """
        query ($skip: Boolean!) { box { first: items { ...Parts n2: name @skip(if: $skip) }
        again: items { size name @include(if: $skip) } } }
        fragment Parts on Item { id name hint { ...H } }
        fragment H on Hint { viewId }""",
    "resolvers beside plain fields": """{ box { items { name later shout(times: 2) id } asyncItems {
        id later hint { bounds } } } }""",
    "a nullable list of nullable items": "{ box { maybeItems { id name } } }",
    "an error in an async resolver": "{ box { items { id broken name } } }",
    "nulls and bad values in non-null fields": """{ brokenBox { label items { id name size
        requiredHint { bounds } } maybeItems { id name } } }""",
    "each failure in a nullable item": """{ brokenBox { oddItems { id name size ratio active colour
        requiredHint { bounds } } } }""",
    "an unreadable attribute": "{ unreadable { id name } }",
}


def _comparable(result: ExecutionResult) -> tuple[Any, list[Any]]:
    errors = [
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []])
        for e in result.errors or []
    ]
    return result.data, sorted(errors, key=repr)


@pytest.mark.parametrize("name", DOCUMENTS)
async def test_the_fast_path_matches_graphql_core(name: str) -> None:
    document = DOCUMENTS[name]
    for skip in (True, False):
        variables = {"skip": skip}
        expected = await slow.execute(document, variable_values=variables)
        actual = await fast.execute(document, variable_values=variables)
        assert _comparable(actual) == _comparable(expected)
        # The key order of every object is the selection's, as clients (and caches keyed on text) see it.
        assert repr(actual.data) == repr(expected.data)


async def test_errors_are_reported_where_they_happen() -> None:
    # The comparison above would pass if both paths were wrong in the same way: pin two cases down.
    # A null in a non-null field of an item in a list of non-null items nulls the nearest nullable parent
    result = await fast.execute("{ brokenBox { label items { id name } } }")
    assert result.data == {"brokenBox": None}
    assert [(e.message, e.path) for e in result.errors or []] == [
        ("Cannot return null for non-nullable field Item.name.", ["brokenBox", "items", 1, "name"])
    ]
    # In a list of nullable items, only that item
    result = await fast.execute("{ brokenBox { maybeItems { id name } } }")
    assert result.data == {"brokenBox": {"maybeItems": [None]}}
    assert [(e.message, e.path) for e in result.errors or []] == [
        ("Cannot return null for non-nullable field Item.name.", ["brokenBox", "maybeItems", 0, "name"])
    ]
