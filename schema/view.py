"""The Strawberry ASGI view: context, websocket authentication and keep-alive, persisted queries, CSRF.

- HTTP: POST, and GET for queries only. A GET (or any request with a "simple" content type) must carry
  a header a browser cannot send cross-site without a CORS preflight, as Apollo clients do; a browser
  opening /graphql (Accept: text/html) gets the offline GraphiQL instead.
- Websockets: `graphql-transport-ws` and legacy `graphql-ws`, handled in `schema/websocket.py`.
- Automatic persisted queries over HTTP and on websocket subscribe, stored in Redis (core/apq.py).
"""

import functools
import uuid
from datetime import timedelta
from typing import cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type as parse_any_content_type
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
from schema.websocket import LegacyWSHandler, TransportWSHandler, error_json, token_from_params

# What a cross-site <form> or <img> can send without a CORS preflight (Apollo's CSRF prevention rule).
_SIMPLE_CONTENT_TYPES = frozenset(
    {"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
_PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
CSRF_MESSAGE = (
    "This request could be a cross-site request forgery: send a Content-Type such as application/json, "
    "or an Apollo-Require-Preflight header"
)


# Clients send a handful of distinct Content-Type values; parsing one goes through the email package.
parse_content_type = functools.lru_cache(maxsize=64)(parse_any_content_type)


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
            connection_init_wait_timeout=timedelta(seconds=settings.websocket_init_timeout_seconds),
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
            return JSONResponse({"errors": [error_json(error)]}, status_code=status)

    def encode_json(self, data: object) -> str | bytes:
        # Text, not bytes: websocket frames of the GraphQL protocols must be text frames.
        return self._json_bytes(data).decode()

    def _json_bytes(self, data: object) -> bytes:
        # orjson: several times faster than json.dumps on a long step list. What orjson refuses (integers
        # beyond 64 bits) goes through the standard encoder.
        try:
            return orjson.dumps(data)
        except TypeError:
            return str(super().encode_json(data)).encode()

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        # Strawberry's, with the body as bytes: through `encode_json`'s text, a lecture tree's 300 KB would
        # be decoded and encoded again.
        response = Response(self._json_bytes(response_data), media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

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
        token = token_from_params(context.connection_params or {})
        if token is not None:
            self._authenticate(context, token)
        if context.auth_error is not None:
            raise ConnectionRejectionError({"message": context.auth_error.message})
        # UNSET (typed Any by Strawberry): acknowledge without a payload.
        return cast("UnsetType", UNSET)
