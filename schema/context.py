"""The typed request context shared by every resolver."""

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from core.auth import Actor
from core.errors import DomainError, Unauthenticated

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
BatchLoad = Callable[[list[K]], Awaitable[list[V]]]


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    request_id: str
    principal: Actor = None
    # A bad token is answered where the actor is first needed, so `me` can still be null for anonymous users.
    auth_error: DomainError | None = None
    connection_params: dict[str, Any] | None = None
    loaders: dict[object, DataLoader[Any, Any]] = field(default_factory=dict)
    # The token's expiry: a websocket lives longer than its token, and every operation it starts after
    # this moment is refused (the view also closes the socket then).
    expires_at: datetime | None = None

    @property
    def actor(self) -> Actor:
        if self.auth_error is not None:
            raise self.auth_error
        if self.expires_at is not None and datetime.now(UTC) >= self.expires_at:
            raise Unauthenticated("Token expired")
        return self.principal

    @property
    def is_websocket(self) -> bool:
        return isinstance(self.request, WebSocket)

    @property
    def client_ip(self) -> str | None:
        client = self.request.client
        return client.host if client else None

    def loader(self, batch: BatchLoad[K, V]) -> DataLoader[K, V]:
        """One DataLoader per batch function and request.

        A websocket connection lives for hours, so its loaders batch but never cache.
        """
        existing = self.loaders.get(batch)
        if existing is None:
            existing = self.loaders[batch] = DataLoader(load_fn=batch, cache=not self.is_websocket)
        return existing


Info: TypeAlias = StrawberryInfo[Context, None]
