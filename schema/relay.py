"""Relay connections for lists that grow without bound."""

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from core.pagination import Page

Node = TypeVar("Node")
Row = TypeVar("Row")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: Page[Row], convert: Callable[[Row], Node]) -> "Connection[Node]":
        return cls(
            edges=[Edge(cursor=cursor, node=convert(row)) for cursor, row in page.items],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
