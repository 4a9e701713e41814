"""The Strawberry ASGI view: context, websocket authentication and keep-alive, persisted queries, CSRF.

- HTTP: POST, and GET for queries only. A GET (or any request with a "simple" content type) must carry
  a header a browser cannot send cross-site without a CORS preflight, as Apollo clients do; a browser
  opening /graphql (Accept: text/html) gets the offline GraphiQL instead.
- Websockets: `graphql-transport-ws` and legacy `graphql-ws`. The token comes in `connection_init`; an
  invalid one closes the connection (4403, or `connection_error` on the legacy protocol). Both protocols
  send keep-alives every `websocket_ping_seconds`.
- Automatic persisted queries over HTTP and on websocket subscribe, stored in Redis (core/apq.py).
"""

import asyncio
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLFormattedError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage
from strawberry.types.unset import UNSET, UnsetType

from core import metrics
from core.apq import PersistedQueryNotFound, resolve_query
from core.auth import UserActor, authenticate
from core.errors import DomainError, ErrorCode
from core.logging import request_id_var, user_id_var
from core.settings import Settings
from schema import limits
from schema.context import Context
from schema.graphiql import render_page
from schema.limits import request_data

_TOKEN_KEYS = ("Authorization", "authorization", "authToken", "token")
# What a cross-site <form> or <img> can send without a CORS preflight (Apollo's CSRF prevention rule).
_SIMPLE_CONTENT_TYPES = frozenset(
    {"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
_PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
CSRF_MESSAGE = (
    "This request could be a cross-site request forgery: send a Content-Type such as application/json, "
    "or an Apollo-Require-Preflight header"
)


def _token_from_params(params: dict[str, Any]) -> str | None:
    for key in _TOKEN_KEYS:
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    headers = params.get("headers")
    return _token_from_params(headers) if isinstance(headers, dict) else None


def _error_json(error: DomainError) -> dict[str, object]:
    return {"message": error.message, "extensions": error.extensions}


async def _fill_persisted_query(view: "GraphQLView", payload: dict[str, Any]) -> None:
    """Checks a websocket subscribe payload's variables, and puts the stored query into one that carries
    only its hash."""
    limits.check_variables(payload.get("variables"), view.max_list_items)
    payload["query"] = await resolve_query(
        payload.get("query"), payload.get("extensions"), view.persisted_query_ttl_seconds
    )


TOKEN_EXPIRED_CLOSE_CODE = 4403


class _ExpiryTimer:
    """Closes a websocket with 4403 when the token it was authenticated with expires."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self, websocket: AsyncWebSocketAdapter, expires_at: datetime | None) -> None:
        if expires_at is not None and self._task is None:
            self._task = asyncio.create_task(self._close_at(websocket, expires_at), name="ws-token-expiry")

    @staticmethod
    async def _close_at(websocket: AsyncWebSocketAdapter, expires_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()))
        with suppress(WebSocketDisconnected, RuntimeError):
            await websocket.close(code=TOKEN_EXPIRED_CLOSE_CODE, reason="Token expired")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """`graphql-transport-ws` with server pings (Strawberry sends none, and mobile networks and Android
    clients drop a websocket that stays silent), closed with 4403 when its token expires."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pinger: asyncio.Task[None] | None = None
        self._expiry = _ExpiryTimer()

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._pinger is None:
            self._pinger = asyncio.create_task(self._ping())
            self._pinger.add_done_callback(self._task_done)
            self._expiry.start(self.websocket, self.context.expires_at)

    async def _ping(self) -> None:
        interval = cast("GraphQLView", self.view).websocket_ping_seconds
        with suppress(WebSocketDisconnected):
            while True:
                await asyncio.sleep(interval)
                await self.send_message({"type": "ping"})

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:
            try:
                await _fill_persisted_query(cast("GraphQLView", self.view), cast("Any", message["payload"]))
            except DomainError as error:
                payload = cast("list[GraphQLFormattedError]", [_error_json(error)])
                await self.send_message(ErrorMessage(id=message["id"], type="error", payload=payload))
                return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        await self._expiry.stop()
        if self._pinger is not None:
            self._pinger.cancel()
            with suppress(asyncio.CancelledError):
                await self._pinger
        await super().shutdown()


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """Legacy `graphql-ws` (subscriptions-transport-ws); Strawberry's own `ka` messages keep it alive. It
    too is closed with 4403 when its token expires."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._expiry = _ExpiryTimer()

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self._expiry.start(self.websocket, self.context.expires_at)

    async def cleanup(self) -> None:
        await self._expiry.stop()
        await super().cleanup()

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            try:
                await _fill_persisted_query(cast("GraphQLView", self.view), cast("Any", message["payload"]))
            except DomainError as error:
                await self.send_message(
                    {"type": "error", "id": message["id"], "payload": cast("Any", _error_json(error))}
                )
                return
        await super().handle_start(message)


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, schema: Schema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            keep_alive=True,
            keep_alive_interval=settings.websocket_ping_seconds,
            allowed_origins=settings.cors_origins,
        )
        self.persisted_query_ttl_seconds = settings.persisted_query_ttl_seconds
        self.max_list_items = settings.graphql_max_list_items
        self.websocket_ping_seconds = settings.websocket_ping_seconds

    async def run(  # type: ignore[override]  # Strawberry types the request loosely; Starlette hands us these
        self,
        request: Request | WebSocket,
        context: Context | UnsetType = UNSET,
        root_value: UnsetType | None = UNSET,
    ) -> Response | WebSocket:
        if self.is_websocket_request(request):
            protocol = await self.pick_websocket_subprotocol(request) or "none"
            connections = metrics.websocket_connections.labels(protocol)
            connections.inc()
            try:
                return await super().run(request, context, root_value)  # type: ignore[arg-type]  # see run above
            finally:
                connections.dec()
        try:
            return await super().run(request, context, root_value)  # type: ignore[arg-type]  # see run above
        except HTTPException as error:
            # Strawberry answers these in plain text; clients parse a GraphQL error body with a code.
            error_body = {"message": error.reason, "extensions": {"code": ErrorCode.BAD_REQUEST.value}}
            return JSONResponse({"errors": [error_body]}, status_code=error.status_code)
        except DomainError as error:
            # Raised while reading the request (persisted queries), before there is an operation to run.
            # Apollo clients only read the body of a 200 when they look for PersistedQueryNotFound.
            status = 200 if isinstance(error, PersistedQueryNotFound) else 400
            return JSONResponse({"errors": [_error_json(error)]}, status_code=status)

    def encode_json(self, data: object) -> str | bytes:
        # orjson: several times faster than json.dumps on a long step list. Text, not bytes: websocket
        # frames of the GraphQL protocols must be text frames. What orjson refuses (integers beyond 64
        # bits) goes through the standard encoder.
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return super().encode_json(data)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # Only browsers ask for HTML; an Apollo GET that carries nothing but a persisted-query hash (and
        # `Accept: */*`) must be executed, not answered with the IDE.
        return (
            request.method == "GET"
            and request.query_params.get("query") is None
            and request.query_params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(render_page())

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        content_type, _ = parse_content_type(request.content_type or "")
        if content_type in _SIMPLE_CONTENT_TYPES and not any(
            request.headers.get(header) for header in _PREFLIGHT_HEADERS
        ):
            raise HTTPException(400, CSRF_MESSAGE)
        if request.method == "POST" and "application/json" in content_type:
            data = await limits.parse_body(await request.get_body(), self.max_list_items)
        else:
            # GET (its parameters are short) or an unsupported content type, which the parent refuses.
            parsed = await super().parse_http_body(request)
            # Batching is off (the schema has no batching config), so the parent never returns a list.
            assert isinstance(parsed, GraphQLRequestData)
            data = request_data(
                {
                    "query": parsed.query,
                    "variables": parsed.variables,
                    "operationName": parsed.operation_name,
                    "extensions": parsed.extensions,
                }
            )
            limits.check_variables(data.variables, self.max_list_items)
        data.query = await resolve_query(data.query, data.extensions, self.persisted_query_ttl_seconds)
        return data

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        request_id = request_id_var.get() or uuid.uuid4().hex
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
            authentication = authenticate(authorization)
            context.principal, context.expires_at = authentication.actor, authentication.expires_at
            context.auth_error = None
        except DomainError as error:
            context.principal, context.expires_at = None, None
            context.auth_error = error
        if isinstance(context.principal, UserActor):
            user_id_var.set(str(context.principal.user_id))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        token = _token_from_params(context.connection_params or {})
        if token is not None:
            self._authenticate(context, token)
        if context.auth_error is not None:
            raise ConnectionRejectionError({"message": context.auth_error.message})
        # UNSET (typed Any by Strawberry): acknowledge without a payload.
        return cast("UnsetType", UNSET)
