"""Resolvers called directly give what Strawberry's own calls give, and only eligible fields change."""

from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.permission import BasePermission

from core.errors import NotFound
from schema import build_schema
from schema.direct_resolvers import call_resolvers_directly
from schema.errors import StudyMateSchema


class Never(BasePermission):
    message = "not allowed"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def plain(self) -> str:
        return f"plain {self.name}"

    @strawberry.field
    def with_info(self, info: strawberry.Info) -> str:
        return f"{self.name} at {info.field_name} under {info.path.prev.key if info.path.prev else None}"

    @strawberry.field
    async def awaited(self, info: strawberry.Info) -> list[str]:
        return [self.name, info.field_name]

    @strawberry.field
    @staticmethod
    def by_root(root: "Item") -> str:
        return f"root {root.name}"

    @strawberry.field
    @staticmethod
    def by_parent(parent: strawberry.Parent["Item"]) -> str:
        return f"parent {parent.name}"

    @strawberry.field
    def failing(self) -> str | None:
        raise NotFound("no such thing")

    @strawberry.field
    async def failing_later(self) -> str:
        raise ValueError("broken")

    @strawberry.field
    def with_argument(self, suffix: str = "!") -> str:
        return self.name + suffix

    guarded: str = strawberry.field(resolver=lambda: "secret", permission_classes=[Never])


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a"), Item(name="b")]


DOCUMENT = """{ items {
    name plain withInfo awaited byRoot byParent failing withArgument(suffix: "?") guarded
} }"""
LATE_FAILURE = "{ items { failingLater } }"


def _schema(direct: bool) -> StudyMateSchema:
    schema = StudyMateSchema(query=Query)
    if direct:
        call_resolvers_directly(schema)
    return schema


@pytest.mark.parametrize("document", [DOCUMENT, LATE_FAILURE])
async def test_direct_calls_give_strawberrys_data_and_errors(document: str) -> None:
    expected = await _schema(direct=False).execute(document)
    got = await _schema(direct=True).execute(document)
    assert got.data == expected.data
    assert [(e.message, e.path, e.extensions) for e in got.errors or []] == [
        (e.message, e.path, e.extensions) for e in expected.errors or []
    ]
    assert got.errors


def test_only_fields_without_arguments_extensions_or_handlers_are_rewired() -> None:
    schema = _schema(direct=True)
    item = schema._schema.type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    fields = item.fields
    direct = {name for name, field in fields.items() if field.resolve and field.resolve.__name__ == "resolve"}
    assert direct == {"plain", "withInfo", "awaited", "byRoot", "byParent", "failing", "failingLater"}


def test_the_studymate_schema_calls_its_plain_resolvers_directly() -> None:
    lecture = build_schema()._schema.type_map["Lecture"]
    assert isinstance(lecture, GraphQLObjectType)
    resolve = lecture.fields["tasks"].resolve
    assert resolve is not None
    assert resolve.__module__ == "schema.direct_resolvers"
