"""Clients that talk to the running api the way the Android and React apps do."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> Any:
        """The `data` of a request that must succeed."""
        body = await self.execute(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The first error of a request that must fail."""
        body = await self.execute(query, variables, token=token)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error


def error_code(error: dict[str, Any]) -> str | None:
    code: str | None = (error.get("extensions") or {}).get("code")
    return code


class Subscription:
    """One websocket speaking either protocol, with one operation on it."""

    def __init__(self, socket: ClientConnection, protocol: str) -> None:
        self.socket = socket
        self.protocol = protocol
        self.operation_id = "1"

    async def start(self, query: str, variables: dict[str, Any] | None = None) -> None:
        start_type = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.socket.send(json.dumps({"id": self.operation_id, "type": start_type, "payload": payload}))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next operation message (`next`/`data`, `error`, `complete`), skipping keep-alives."""
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = json.loads(await self.socket.recv())
                if message["type"] in {"ping", "pong", "ka"}:
                    if message["type"] == "ping":
                        await self.socket.send(json.dumps({"type": "pong"}))
                    continue
                return message

    async def next_data(self, timeout: float = 5.0) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] in {"next", "data"}, message
        assert not message["payload"].get("errors"), message
        data: dict[str, Any] = message["payload"]["data"]
        return data


@asynccontextmanager
async def subscription(
    api_url: str, protocol: str, *, token: str | None = None, init_payload: dict[str, Any] | None = None
) -> AsyncIterator[Subscription]:
    ws_url = api_url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=[protocol]) as socket:  # type: ignore[list-item]
        payload = (
            init_payload
            if init_payload is not None
            else ({"Authorization": f"Bearer {token}"} if token else {})
        )
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await socket.recv())
        assert ack["type"] == "connection_ack", ack
        yield Subscription(socket, protocol)
