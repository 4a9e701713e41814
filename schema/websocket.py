"""The two websocket protocols the clients speak: `graphql-transport-ws` (Apollo Kotlin, graphql-ws) and
the legacy `graphql-ws` (subscriptions-transport-ws). The token comes in `connection_init`; an invalid one
closes the connection (4403, or `connection_error` on the legacy protocol); an expiring one closes it when
it expires. Both send keep-alives every `websocket_ping_seconds`, fill persisted queries on subscribe, and
hand broadcastable subscriptions to the cohort fan-out (`schema/fanout/`).
"""

import asyncio
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import orjson
from graphql import GraphQLFormattedError
from starlette.websockets import WebSocketDisconnect
from strawberry import Schema
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import CompleteMessage as LegacyCompleteMessage
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyErrorMessage
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError

from core.apq import resolve_query
from core.errors import DomainError
from core.timers import Timer
from schema import fanout, limits
from schema.context import Context

if TYPE_CHECKING:
    from schema.view import GraphQLView

_TOKEN_KEYS = ("Authorization", "authorization", "authToken", "token")


def token_from_params(params: dict[str, Any]) -> str | None:
    for key in _TOKEN_KEYS:
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    headers = params.get("headers")
    return token_from_params(headers) if isinstance(headers, dict) else None


def error_json(error: DomainError) -> dict[str, object]:
    return {"message": error.message, "extensions": error.extensions}


async def _fill_persisted_query(view: "GraphQLView", payload: dict[str, Any]) -> None:
    """Checks a websocket subscribe payload's variables, and puts the stored query into one that carries
    only its hash."""
    limits.check_variables(payload.get("variables"), view.max_list_items)
    payload["query"] = await resolve_query(
        payload.get("query"), payload.get("extensions"), view.persisted_query_ttl_seconds
    )


TOKEN_EXPIRED_CLOSE_CODE = 4403


class _FanOut:
    """What both protocols' handlers share to run broadcastable subscriptions on the fan-out
    (schema/fanout.py): the members by operation id, and frames sent as they are."""

    websocket: AsyncWebSocketAdapter
    schema: BaseSchema
    context: Context
    root_value: None

    def _init_fan_out(self) -> None:
        self.members: dict[str, fanout.Member] = {}

    def _member(self, operation_id: str, route: fanout.Route, payload: dict[str, Any]) -> fanout.Member:
        member = fanout.Member(
            cast("fanout.Connection", self),
            operation_id,
            route,
            payload.get("variables"),
            payload.get("operationName"),
            self.context,
            cast("Schema", self.schema)._schema,
        )
        self.members[operation_id] = member
        return member

    async def _first_result(self, member: fanout.Member, payload: dict[str, Any]) -> Any:
        return await member.start(
            lambda: self.schema.subscribe(
                payload["query"],
                variable_values=member.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=member.operation_name,
            )
        )

    async def send_frame(self, frame: str) -> None:
        # Serialized once for every member of a cohort: sent as it is, not through encode_json.
        socket = cast("ASGIWebSocketAdapter", self.websocket).ws
        try:
            await socket.send_text(frame)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error

    async def _leave(self, operation_id: str) -> bool:
        member = self.members.pop(operation_id, None)
        if member is not None:
            await member.leave()
        return member is not None


def _expiry_timer(websocket: AsyncWebSocketAdapter) -> Timer:
    """Closes a websocket with 4403 when the token it was authenticated with expires."""

    async def close() -> None:
        with suppress(WebSocketDisconnected, RuntimeError):
            await websocket.close(code=TOKEN_EXPIRED_CLOSE_CODE, reason="Token expired")

    return Timer(close, "ws-token-expiry")


def _start_expiry(timer: Timer, expires_at: datetime | None) -> None:
    if expires_at is not None:
        timer.start((expires_at - datetime.now(UTC)).total_seconds())


class TransportWSHandler(_FanOut, BaseGraphQLTransportWSHandler[Context, None]):
    """`graphql-transport-ws` with server pings (Strawberry sends none, and mobile networks and Android
    clients drop a websocket that stays silent), closed with 4403 when its token expires."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pinger = Timer(self._ping, "ws-ping")
        self._expiry = _expiry_timer(self.websocket)
        self._init_wait = Timer(self._init_timed_out, "ws-init-wait")
        self._init_fan_out()

    def on_request_accepted(self) -> None:
        # A timer where Strawberry starts a task per socket that sleeps out the whole wait, even once
        # connection_init has come: thousands of phones opening at once would each hold one for a minute.
        self._init_wait.start(self.connection_init_wait_timeout.total_seconds())

    async def _init_timed_out(self) -> None:
        if not self.connection_init_received:
            self.connection_timed_out = True
            with suppress(WebSocketDisconnected, RuntimeError):
                await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await self._init_wait.stop()
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self._pinger.start(self._ping_interval)
            _start_expiry(self._expiry, self.context.expires_at)

    @property
    def _ping_interval(self) -> float:
        return cast("GraphQLView", self.view).websocket_ping_seconds

    async def _ping(self) -> float | None:
        try:
            await self.send_message({"type": "ping"})
        except (WebSocketDisconnected, RuntimeError):
            return None  # the socket is gone; its handler shuts down
        return self._ping_interval

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:
            try:
                await _fill_persisted_query(cast("GraphQLView", self.view), cast("Any", message["payload"]))
            except DomainError as error:
                payload = cast("list[GraphQLFormattedError]", [error_json(error)])
                await self.send_message(ErrorMessage(id=message["id"], type="error", payload=payload))
                return
            route = fanout.route(cast("dict[str, Any]", message["payload"]))
            if route is not None and message["id"] not in self.operations:
                self._subscribe_member(message, route)
                return
        await super().handle_subscribe(message)

    def _subscribe_member(self, message: SubscribeMessage, route: fanout.Route) -> None:
        payload = cast("dict[str, Any]", message["payload"])
        operation = Operation(
            self, message["id"], payload["query"], payload.get("variables"), payload.get("operationName")
        )
        member = self._member(operation.id, route, payload)
        operation.task = asyncio.create_task(self._run_member(operation, member, payload))
        operation.task.add_done_callback(self._task_done)
        self.operations[operation.id] = operation

    async def _run_member(
        self, operation: Operation[Context, None], member: fanout.Member, payload: dict[str, Any]
    ) -> None:
        """Strawberry's `run_operation` up to the snapshot; then the member is live on the fan-out and
        this task ends. A stream that did not join (an error) goes on as Strawberry sends it."""
        try:
            first = await self._first_result(member, payload)
            if isinstance(first, PreExecutionError):
                await operation.send_initial_errors(first.errors or [])
                await self._leave(operation.id)
                return
            if first is not None:
                await operation.send_next(first)
                if member.joined and not first.errors:
                    await member.go_live()
                    return
                assert member.stream is not None
                async for result in member.stream:
                    await operation.send_next(result)
            await self._leave(operation.id)
            await operation.send_operation_message(CompleteMessage(id=operation.id, type="complete"))
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message(CompleteMessage(id=operation.id, type="complete"))
            await self._leave(operation.id)

    def frame(self, operation_id: str, payload: str) -> str:
        return f'{{"id":{orjson.dumps(operation_id).decode()},"type":"next","payload":{payload}}}'

    async def send_result(self, operation_id: str, result: ExecutionResult) -> None:
        if (operation := self.operations.get(operation_id)) is not None:
            await operation.send_next(result)

    async def complete(self, operation_id: str) -> None:
        self.members.pop(operation_id, None)
        if (operation := self.operations.get(operation_id)) is not None:
            await operation.send_operation_message(CompleteMessage(id=operation_id, type="complete"))

    async def cleanup_operation(self, operation_id: str) -> None:
        await super().cleanup_operation(operation_id)
        await self._leave(operation_id)

    async def shutdown(self) -> None:
        await self._init_wait.stop()
        await self._expiry.stop()
        await self._pinger.stop()
        await super().shutdown()


class LegacyWSHandler(_FanOut, BaseGraphQLWSHandler[Context, None]):
    """Legacy `graphql-ws` (subscriptions-transport-ws), kept alive with `ka` messages (on a timer, where
    Strawberry would hold a task per socket). It too is closed with 4403 when its token expires."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._expiry = _expiry_timer(self.websocket)
        self._keep_alive = Timer(self._send_keep_alive, "ws-keep-alive")
        self._keep_alive_wanted, self.keep_alive = self.keep_alive, False
        self._init_fan_out()

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            _start_expiry(self._expiry, self.context.expires_at)
            if self._keep_alive_wanted:
                self._keep_alive.start(0)

    async def _send_keep_alive(self) -> float | None:
        try:
            await self.send_message({"type": "ka"})
        except (WebSocketDisconnected, RuntimeError):
            return None  # the socket is gone; its handler cleans up
        return self.keep_alive_interval

    async def cleanup(self) -> None:
        await self._expiry.stop()
        await self._keep_alive.stop()
        await super().cleanup()

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            try:
                await _fill_persisted_query(cast("GraphQLView", self.view), cast("Any", message["payload"]))
            except DomainError as error:
                await self.send_message(
                    {"type": "error", "id": message["id"], "payload": cast("Any", error_json(error))}
                )
                return
            route = fanout.route(cast("dict[str, Any]", message["payload"]))
            if route is not None:
                await self._start_member(message, route)
                return
        await super().handle_start(message)

    async def _start_member(self, message: StartMessage, route: fanout.Route) -> None:
        operation_id = message["id"]
        if operation_id in self.tasks:
            await self.cleanup_operation(operation_id)
        payload = cast("dict[str, Any]", message["payload"])
        member = self._member(operation_id, route, payload)
        self.tasks[operation_id] = asyncio.create_task(self._run_member(operation_id, member, payload))

    async def _run_member(self, operation_id: str, member: fanout.Member, payload: dict[str, Any]) -> None:
        """Strawberry's `handle_async_results` up to the snapshot; then the member is live on the fan-out
        and this task ends. A stream that did not join (an error) goes on as Strawberry sends it."""
        try:
            first = await self._first_result(member, payload)
            if isinstance(first, PreExecutionError):
                assert first.errors
                error = LegacyErrorMessage(type="error", id=operation_id, payload=first.errors[0].formatted)
                await self.send_message(error)
                await self._leave(operation_id)
                self.tasks.pop(operation_id, None)
                return
            if first is not None:
                await self.send_data_message(first, operation_id)
                if member.joined and not first.errors:
                    await member.go_live()
                    return
                assert member.stream is not None
                async for result in member.stream:
                    await self.send_data_message(result, operation_id)
            await self.complete(operation_id)
            await member.leave()
        except asyncio.CancelledError:
            await self.send_message(LegacyCompleteMessage(type="complete", id=operation_id))
            raise

    def frame(self, operation_id: str, payload: str) -> str:
        return f'{{"type":"data","id":{orjson.dumps(operation_id).decode()},"payload":{payload}}}'

    async def send_result(self, operation_id: str, result: ExecutionResult) -> None:
        await self.send_data_message(result, operation_id)

    async def complete(self, operation_id: str) -> None:
        self.members.pop(operation_id, None)
        task = self.tasks.get(operation_id)
        if task is asyncio.current_task() or (task is not None and task.done()):
            del self.tasks[operation_id]
        await self.send_message(LegacyCompleteMessage(type="complete", id=operation_id))

    async def cleanup_operation(self, operation_id: str) -> None:
        task = self.tasks.get(operation_id)
        stopped = operation_id in self.members and (task is None or task.done())
        await super().cleanup_operation(operation_id)
        await self._leave(operation_id)
        if stopped:
            # A live member has no task for Strawberry to cancel, which is what would send this.
            with suppress(WebSocketDisconnected, RuntimeError):
                await self.send_message(LegacyCompleteMessage(type="complete", id=operation_id))
