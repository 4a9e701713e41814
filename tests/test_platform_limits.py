"""Request limits: a body over MAX_BODY_BYTES is refused with 413 while it streams in, a list in the
variables over GRAPHQL_MAX_LIST_ITEMS before GraphQL coerces it, and neither stalls anyone else."""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from core.settings import get_settings
from tests.classroom_factories import join, make_classroom
from tests.client import LEGACY_WS, TRANSPORT_WS, GraphQLClient, error_code, subscription
from tests.factories import make_account

LOG_ACTIVITY = "mutation($events: [ActivityEventInput!]!) { logActivity(events: $events) }"
ME = "query { me { id } }"


def activity(count: int) -> list[dict[str, Any]]:
    at = datetime.now(UTC).isoformat()
    return [
        {"eventId": str(uuid.uuid4()), "eventType": "TAP", "occurredAt": at, "data": {"x": n, "y": n}}
        for n in range(count)
    ]


def body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"query": LOG_ACTIVITY, "variables": {"events": events}}).encode()


async def _latencies(gql: GraphQLClient, token: str, until: asyncio.Task[Any]) -> list[float]:
    """Another client's `me` round trips, one after another, for as long as `until` runs (at least 5)."""
    latencies: list[float] = []
    while not until.done() or len(latencies) < 5:
        started = time.perf_counter()
        assert await gql.data(ME, token=token)
        latencies.append(time.perf_counter() - started)
    return latencies


async def test_60000_events_from_a_participant_are_refused_with_413_and_stall_nobody(
    api_url: str, gql: GraphQLClient
) -> None:
    # Given a participant of a live session, and another user of the api
    joined = await join(await make_classroom(start=True))
    other = await make_account()
    payload = body(activity(60_000))
    assert len(payload) > 4 * get_settings().max_body_bytes
    # When the participant posts 60,000 events while the other user keeps querying
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as attacker:
        flood = asyncio.create_task(
            attacker.post(
                "/graphql",
                content=payload,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {joined.token}"},
            )
        )
        latencies = await _latencies(gql, other.token, flood)
        response = await flood
    # Then the flood gets a GraphQL error body with 413, and the other user never waited
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error_code(error) == "PAYLOAD_TOO_LARGE"
    assert max(latencies) < 0.5, latencies


async def test_a_chunked_body_without_a_length_is_refused_while_it_streams(api_url: str) -> None:
    # Given a client streaming a chunked body (no Content-Length to refuse it by) that would never end
    limit = get_settings().max_body_bytes
    host, port = api_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    chunk = b" " * 65536
    sent = 0
    # When it sends chunk after chunk until the server answers
    while not answer.done() and sent < 100 * limit:
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        sent += len(chunk)
        await asyncio.sleep(0)
    head = await asyncio.wait_for(answer, 10)
    writer.close()
    # Then the server answered 413 once the limit was passed, long before the end (the surplus is what
    # the sockets' buffers held)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert sent < 10 * limit


async def test_a_body_within_the_limit_still_runs(gql: GraphQLClient) -> None:
    padding = "x" * (get_settings().max_body_bytes - 1000)
    response = await gql.http.post("/graphql", json={"query": "{ __typename }", "padding": padding})
    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})


async def test_a_list_over_the_cap_is_refused_before_coercion_with_its_variable_path(
    gql: GraphQLClient,
) -> None:
    # Given a participant sending one event more than any list may hold, well within the body limit
    joined = await join(await make_classroom(start=True))
    events = activity(get_settings().graphql_max_list_items + 1)
    # When it is posted
    response = await gql.http.post(
        "/graphql",
        content=body(events),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {joined.token}"},
    )
    # Then it is refused as bad input that names the variable
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "events")


async def test_a_nested_list_over_the_cap_is_named_by_its_path(gql: GraphQLClient) -> None:
    data = {"points": list(range(get_settings().graphql_max_list_items + 1))}
    events = [{**activity(1)[0], "data": data}]
    response = await gql.http.post(
        "/graphql", content=body(events), headers={"Content-Type": "application/json"}
    )
    [error] = response.json()["errors"]
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "events.0.data.points")


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_websocket_operation_with_a_list_over_the_cap_is_refused(api_url: str, protocol: str) -> None:
    variables = {"events": activity(get_settings().graphql_max_list_items + 1)}
    async with subscription(api_url, protocol) as socket:
        await socket.start(LOG_ACTIVITY, variables)
        message = await socket.receive()
    assert message["type"] == "error", message
    payload = message["payload"]
    error = payload[0] if isinstance(payload, list) else payload
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "events")
