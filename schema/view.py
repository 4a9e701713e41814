"""The Strawberry ASGI view: builds the per-request context and authenticates websockets."""

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from core.auth import UserActor, actor_from_authorization
from core.errors import DomainError
from core.logging import request_id_var, user_id_var
from core.settings import get_settings
from schema.context import Context

_TOKEN_KEYS = ("Authorization", "authorization", "authToken", "token")


def _token_from_params(params: dict[str, Any]) -> str | None:
    for key in _TOKEN_KEYS:
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    headers = params.get("headers")
    return _token_from_params(headers) if isinstance(headers, dict) else None


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: Any) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            keep_alive=True,
            keep_alive_interval=get_settings().websocket_ping_seconds,
        )

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request_id_var.set(request_id)
        context = Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            request_id=request_id,
        )
        self._authenticate(context, request.headers.get("authorization"))
        return context

    @staticmethod
    def _authenticate(context: Context, authorization: str | None) -> None:
        try:
            context.principal = actor_from_authorization(authorization)
            context.auth_error = None
        except DomainError as error:
            context.principal = None
            context.auth_error = error
        if isinstance(context.principal, UserActor):
            user_id_var.set(str(context.principal.user_id))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        token = _token_from_params(context.connection_params or {})
        if token is not None:
            self._authenticate(context, token)
        if context.auth_error is not None:
            raise ConnectionRejectionError({"message": context.auth_error.message})
        return UNSET
