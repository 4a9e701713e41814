"""`selects` finds a field below the one being resolved however the document reaches it."""

import pytest
import strawberry

from schema.context import Info
from schema.selection import selects

seen: list[bool] = []


@strawberry.type
class Leaf:
    name: str = "leaf"
    other: str = "other"


@strawberry.type
class Query:
    @strawberry.field
    def probe(self, info: Info) -> Leaf:
        seen.append(selects(info, "name"))
        return Leaf()


SCHEMA = strawberry.Schema(query=Query)


@pytest.mark.parametrize(
    ("document", "found"),
    [
        ("{ probe { name } }", True),
        ("{ probe { other } }", False),
        ("{ probe { ... on Leaf { name } } }", True),
        ("{ probe { ...Named } } fragment Named on Leaf { name }", True),
        ("{ probe { ...Outer } } fragment Outer on Leaf { ...Named } fragment Named on Leaf { name }", True),
        ("{ probe { ...Other } } fragment Other on Leaf { other name: other }", False),
        ("{ probe { alias: name } }", True),
    ],
)
async def test_a_field_is_found_directly_through_fragments_and_under_an_alias(
    document: str, found: bool
) -> None:
    seen.clear()
    result = await SCHEMA.execute(document)
    assert result.errors is None
    assert seen == [found]


@strawberry.type
class Branch:
    leaf: Leaf = strawberry.field(default_factory=Leaf)
    other: str = "other"


@strawberry.type
class DeepQuery:
    @strawberry.field
    def probe(self, info: Info) -> Branch:
        seen.append(selects(info, "leaf", "name"))
        return Branch()


DEEP_SCHEMA = strawberry.Schema(query=DeepQuery)


@pytest.mark.parametrize(
    ("document", "found"),
    [
        ("{ probe { leaf { name } } }", True),
        ("{ probe { leaf { other } } }", False),
        ("{ probe { other } }", False),
        ("{ probe { ... on Branch { leaf { ...Named } } } } fragment Named on Leaf { name }", True),
        ("{ probe { a: leaf { other } b: leaf { name } } }", True),
    ],
)
async def test_a_path_of_fields_is_followed_level_by_level(document: str, found: bool) -> None:
    seen.clear()
    result = await DEEP_SCHEMA.execute(document)
    assert result.errors is None
    assert seen == [found]
