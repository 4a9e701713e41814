"""Typed forms of `@strawberry.field(description=…)` and its mutation and subscription siblings.

Called with options only, Strawberry's decorators are typed as returning Any, which strict mypy rejects
as an untyped decorator; called with the resolver they are typed. These pass the resolver.
"""

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.types.field import StrawberryField

Decorator = Callable[[Callable[..., Any]], StrawberryField]


def field(description: str) -> Decorator:
    def decorate(resolver: Callable[..., Any]) -> StrawberryField:
        return strawberry.field(resolver, description=description)

    return decorate


def mutation(description: str) -> Decorator:
    def decorate(resolver: Callable[..., Any]) -> StrawberryField:
        return strawberry.mutation(resolver, description=description)

    return decorate


def subscription(description: str) -> Decorator:
    def decorate(resolver: Callable[..., Any]) -> StrawberryField:
        return strawberry.subscription(resolver, description=description)

    return decorate
