"""Both websocket protocols: authentication in connection_init, keep-alives, persisted queries."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import jwt
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app import create_app
from broadcast import notifications as notification_events
from broadcast.hub import hub
from core.apq import query_hash
from core.auth import Role, UserActor
from core.db import transaction
from core.errors import Unauthenticated
from core.settings import get_settings
from devstack import free_port
from resolvers import notifications
from schema.context import Context
from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, GraphQLClient, error_code, subscription
from tests.helpers.factories import Account, make_account
from tests.helpers.notifications import notify

ME = "query Me { me { id } }"
NOTIFICATIONS = "subscription Notifications { notifications { title } }"
FAST_PING_SECONDS = 0.1


def _ws_url(api_url: str) -> str:
    return api_url.replace("http://", "ws://") + "/graphql"


async def _json(socket: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        message: dict[str, Any] = json.loads(await socket.recv())
    return message


@asynccontextmanager
async def _serve_with_fast_pings(**changes: object) -> AsyncIterator[str]:
    """A second real api server whose keep-alive interval (and any of `changes`) is short enough to
    observe in a test.

    Without lifespan: the shutdown of the process-wide hub and pools belongs to the session's server.
    """
    settings = get_settings().model_copy(update={"websocket_ping_seconds": FAST_PING_SECONDS, **changes})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await task


async def _local_subscribers(account: Account, count: int) -> None:
    """Waits until this api process has `count` subscriptions on the account's notifications (its hub
    holds one Redis subscription for all of them, so Redis cannot tell)."""
    channel = notification_events.user_channel(account.user.id)
    async with asyncio.timeout(5):
        while hub().local_subscribers(channel) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def _first_error(message: dict[str, Any]) -> dict[str, Any]:
    """The first GraphQL error of an `error`, `next` or `data` message, whichever protocol sent it."""
    payload = message["payload"]
    error: dict[str, Any] = payload[0] if isinstance(payload, list) else payload.get("errors", [payload])[0]
    return error


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("key", ["Authorization", "authToken", "token"])
async def test_a_token_in_connection_init_authenticates_the_socket(
    api_url: str, protocol: str, key: str
) -> None:
    # Given an account, and a socket whose connection_init carries its token under one of the accepted keys
    account = await make_account()
    value = f"Bearer {account.token}" if key == "Authorization" else account.token
    async with subscription(api_url, protocol, init_payload={key: value}) as socket:
        # When it subscribes to its notifications and one is created
        await socket.start(NOTIFICATIONS)
        await notify(account, f"hello {protocol} {key}")
        # Then it receives it: the subscription runs as that account
        assert await socket.next_data() == {"notifications": {"title": f"hello {protocol} {key}"}}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_socket_without_a_token_is_anonymous(api_url: str, protocol: str) -> None:
    async with subscription(api_url, protocol) as socket:
        await socket.start(NOTIFICATIONS)
        error = _first_error(await socket.receive())
    assert error_code(error) == "UNAUTHENTICATED"


async def test_an_invalid_token_closes_a_transport_ws_socket_with_4403(api_url: str) -> None:
    async with connect(_ws_url(api_url), subprotocols=[TRANSPORT_WS]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": "not.a.jwt"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await _json(socket)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Forbidden")


async def test_an_invalid_token_gets_connection_error_on_legacy_graphql_ws(api_url: str) -> None:
    async with connect(_ws_url(api_url), subprotocols=[LEGACY_WS]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {"token": "not.a.jwt"}}))
        message = await _json(socket)
        with pytest.raises(ConnectionClosed):
            await _json(socket)
    assert message == {"type": "connection_error", "payload": {"message": "Invalid token"}}


def test_the_default_keep_alive_interval_is_below_what_android_clients_tolerate() -> None:
    assert 0 < get_settings().websocket_ping_seconds <= 15


@pytest.mark.parametrize(("protocol", "keep_alive"), [(TRANSPORT_WS, "ping"), (LEGACY_WS, "ka")])
async def test_sockets_get_keep_alives_after_the_ack(protocol: str, keep_alive: str) -> None:
    async with (
        _serve_with_fast_pings() as url,
        connect(_ws_url(url), subprotocols=[protocol]) as socket,  # type: ignore[list-item]
    ):
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert await _json(socket) == {"type": "connection_ack"}
        # Then keep-alives keep coming while the client says nothing (but pong, on graphql-transport-ws)
        for _ in range(3):
            assert await _json(socket, timeout=FAST_PING_SECONDS * 20) == {"type": keep_alive}
            if keep_alive == "ping":
                await socket.send(json.dumps({"type": "pong"}))


INIT_TIMEOUT_SECONDS = 0.3


async def test_a_transport_ws_socket_that_never_sends_connection_init_is_closed_with_4408() -> None:
    async with (
        _serve_with_fast_pings(websocket_init_timeout_seconds=INIT_TIMEOUT_SECONDS) as url,
        connect(_ws_url(url), subprotocols=[TRANSPORT_WS]) as socket,  # type: ignore[list-item]
    ):
        with pytest.raises(ConnectionClosed) as closed:
            await _json(socket, timeout=INIT_TIMEOUT_SECONDS * 20)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4408, "Connection initialisation timeout")


async def test_a_transport_ws_socket_initialised_in_time_outlives_the_init_timeout() -> None:
    async with (
        _serve_with_fast_pings(websocket_init_timeout_seconds=INIT_TIMEOUT_SECONDS) as url,
        connect(_ws_url(url), subprotocols=[TRANSPORT_WS]) as socket,  # type: ignore[list-item]
    ):
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert await _json(socket) == {"type": "connection_ack"}
        # Then it stays open, pinged, for several times the wait for connection_init
        loop = asyncio.get_running_loop()
        until = loop.time() + INIT_TIMEOUT_SECONDS * 3
        while loop.time() < until:
            assert await _json(socket, timeout=FAST_PING_SECONDS * 20) == {"type": "ping"}
            await socket.send(json.dumps({"type": "pong"}))


@pytest.mark.parametrize(("protocol", "start"), [(TRANSPORT_WS, "subscribe"), (LEGACY_WS, "start")])
async def test_a_subscribe_with_only_a_known_hash_runs_the_stored_query(
    api_url: str, gql: GraphQLClient, protocol: str, start: str
) -> None:
    # Given a subscription document persisted earlier by a socket that sent it with its hash
    account = await make_account()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": query_hash(NOTIFICATIONS)}}
    async with (
        subscription(api_url, protocol, token=account.token) as registering,
        subscription(api_url, protocol, token=account.token) as socket,
    ):
        await registering.socket.send(
            json.dumps(
                {"id": "1", "type": start, "payload": {"query": NOTIFICATIONS, "extensions": extensions}}
            )
        )
        await _local_subscribers(account, 1)
        # When another websocket subscribes with its hash alone
        await socket.socket.send(
            json.dumps({"id": "1", "type": start, "payload": {"extensions": extensions}})
        )
        await _local_subscribers(account, 2)
        async with transaction() as db:
            await notifications.create_in_app(
                db, account.user.id, kind="test", title="persisted", body="", dedupe_key="persisted"
            )
        # Then the stored subscription runs
        assert await socket.next_data() == {"notifications": {"title": "persisted"}}


@pytest.mark.parametrize(("protocol", "start"), [(TRANSPORT_WS, "subscribe"), (LEGACY_WS, "start")])
async def test_a_subscribe_with_an_unknown_hash_is_answered_persisted_query_not_found(
    api_url: str, protocol: str, start: str
) -> None:
    async with subscription(api_url, protocol) as socket:
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": query_hash("{ never { sent } }")}}
        await socket.socket.send(
            json.dumps({"id": "7", "type": start, "payload": {"extensions": extensions}})
        )
        message = await socket.receive()
    # graphql-transport-ws sends a list of errors, legacy graphql-ws a single one
    assert (message["id"], message["type"]) == ("7", "error")
    assert _first_error(message) == {
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
    }


async def test_open_websockets_are_counted_in_metrics(api_url: str) -> None:
    async def open_transport_sockets(http: httpx.AsyncClient) -> float:
        text = (await http.get("/metrics")).text
        line = next(
            line
            for line in text.splitlines()
            if line.startswith(f'studymate_websocket_connections{{protocol="{TRANSPORT_WS}"}}')
        )
        return float(line.rsplit(" ", 1)[1])

    async with httpx.AsyncClient(base_url=api_url) as http:
        before = await open_transport_sockets(http)
        async with subscription(api_url, TRANSPORT_WS):
            during = await open_transport_sockets(http)
    assert during == before + 1


async def test_a_query_over_legacy_graphql_ws_is_a_client_error_not_an_internal_one(api_url: str) -> None:
    # Legacy graphql-ws carries subscriptions only; a query there is the client's mistake.
    async with subscription(api_url, LEGACY_WS) as socket:
        await socket.start("{ me { id } }")
        message = await socket.receive()
    assert message["type"] == "error"
    assert message["payload"]["extensions"] == {"code": "BAD_REQUEST"}


def _token_expiring_in(account: Account, seconds: float) -> str:
    """An access token exactly like the api's, but about to expire."""
    now = datetime.now(UTC)
    claims = {
        "sub": account.id,
        "role": account.user.role.value,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(seconds=seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, get_settings().secret_key, algorithm="HS256")


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_socket_is_closed_with_4403_when_its_token_expires(api_url: str, protocol: str) -> None:
    # Given a subscription on a socket whose token expires in two seconds
    account = await make_account()
    token = _token_expiring_in(account, 2)
    async with subscription(api_url, protocol, token=token) as socket:
        await socket.start(NOTIFICATIONS)
        await _local_subscribers(account, 1)
        await notify(account, "before expiry")
        assert await socket.next_data() == {"notifications": {"title": "before expiry"}}
        # When the token expires, then the server closes the socket as forbidden
        with pytest.raises(ConnectionClosed) as closed:
            await socket.receive(timeout=5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Token expired")
    # And its subscription is gone
    assert hub().local_subscribers(notification_events.user_channel(account.user.id)) == 0


def test_an_operation_started_after_the_token_expired_is_unauthenticated() -> None:
    # Given a websocket's context whose token expired a moment ago (the close is on its way)
    context = Context(
        request=cast("Any", None),
        response=None,
        request_id="r",
        principal=UserActor(uuid.uuid4(), Role.STUDENT),
        expires_at=datetime.now(UTC) - timedelta(milliseconds=1),
    )
    # When a subscription starts and asks for its actor, then it is refused
    with pytest.raises(Unauthenticated, match="Token expired"):
        _ = context.actor
