"""Responses are encoded with orjson: the same JSON values, text frames on websockets."""

import json

from tests.helpers.client import TRANSPORT_WS, GraphQLClient, subscription
from tests.helpers.factories import make_account
from tests.helpers.notifications import notify

ME = "{ me { name } }"
NOTIFICATIONS = "subscription { notifications { title } }"


async def test_non_ascii_text_comes_back_unchanged(gql: GraphQLClient) -> None:
    # Given an account whose name is Korean with an emoji
    account = await make_account(name="김민지 🌷")
    # When it reads its name over HTTP
    response = await gql.http.post(
        "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {account.token}"}
    )
    # Then the body is UTF-8 JSON carrying the same text
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.content.decode("utf-8")) == {"data": {"me": {"name": "김민지 🌷"}}}


async def test_websocket_messages_are_text_frames(api_url: str) -> None:
    # Given a subscribed socket
    account = await make_account()
    async with subscription(api_url, TRANSPORT_WS, token=account.token) as socket:
        await socket.start(NOTIFICATIONS)
        # When a notification arrives
        await notify(account, "안녕하세요")
        frame = await socket.socket.recv()
        while json.loads(frame)["type"] in {"ping", "pong"}:
            frame = await socket.socket.recv()
    # Then it came as a text frame with the event
    assert isinstance(frame, str)
    assert json.loads(frame)["payload"] == {"data": {"notifications": {"title": "안녕하세요"}}}
