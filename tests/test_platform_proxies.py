"""X-Forwarded-For is believed only from TRUSTED_PROXIES (nobody by default), and parsed defensively."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from app import create_app
from core.asgi import forwarded_client, trusted_networks
from core.redis import redis
from core.settings import get_settings
from tests.client import GraphQLClient, error_code

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
WRONG = {"e": "nobody@example.com", "p": "wrong password"}


async def _buckets() -> set[str]:
    return {key async for key in redis().scan_iter("ratelimit:login:*")}


@asynccontextmanager
async def _behind_proxy(peer: str, *trusted: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with TRUSTED_PROXIES set, reached from `peer`, called in-process."""
    app = create_app(get_settings().model_copy(update={"trusted_proxies": list(trusted)}))
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def test_without_trusted_proxies_a_forwarded_address_is_ignored(gql: GraphQLClient) -> None:
    # Given the default settings, when a client on this machine sends a made-up forwarded address
    response = await gql.http.post(
        "/graphql", json={"query": LOGIN, "variables": WRONG}, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    # Then its failed login is counted against its own address, not the one it named
    assert error_code(response.json()["errors"][0]) == "UNAUTHENTICATED"
    assert await _buckets() == {"ratelimit:login:127.0.0.1"}


async def test_a_trusted_proxy_hands_over_the_address_it_names() -> None:
    # Given a load balancer in 10.0.0.0/8, whose chain ends in a forged entry the client put first
    async with _behind_proxy("10.0.0.2", "10.0.0.0/8") as http:
        response = await http.post(
            "/graphql",
            json={"query": LOGIN, "variables": WRONG},
            headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.9, 10.0.0.5"},
        )
    # Then the client is the first address the trusted hops vouch for, not the forged one
    assert error_code(response.json()["errors"][0]) == "UNAUTHENTICATED"
    assert await _buckets() == {"ratelimit:login:198.51.100.9"}


@pytest.mark.parametrize(
    "header",
    [
        "a" * 100_000,
        "," * 50_000,
        "[",
        "[::1",
        "1.2.3.4:abc",
        "999.1.1.1",
        "\x7f",
        "1.2.3.4, " * 5_000 + "zz",
    ],
    ids=["long", "commas", "bracket", "open-bracket", "bad-port", "bad-octet", "control", "long-chain"],
)
async def test_a_garbage_forwarded_header_is_never_an_internal_error(header: str) -> None:
    async with _behind_proxy("10.0.0.2", "10.0.0.0/8") as http:
        response = await http.post(
            "/graphql", json={"query": LOGIN, "variables": WRONG}, headers={"X-Forwarded-For": header}
        )
    assert error_code(response.json()["errors"][0]) == "UNAUTHENTICATED"
    # The walk stops at the last hop it can trust: the proxy itself
    assert await _buckets() == {"ratelimit:login:10.0.0.2"}


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("127.0.0.1", "203.0.113.7", "127.0.0.1"),  # the peer is no trusted proxy
        ("10.0.0.2", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.2", "203.0.113.7:5555", "203.0.113.7"),
        ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.0.0.2", "2001:db8::1", "2001:db8::1"),
        ("10.0.0.2", "203.0.113.7, 10.0.0.9", "203.0.113.7"),
        ("10.0.0.2", "10.0.0.9, 10.0.0.8", "10.0.0.9"),  # only proxies: the farthest one
        ("10.0.0.2", "203.0.113.7, garbage, 10.0.0.9", "10.0.0.9"),
        ("10.0.0.2", "", "10.0.0.2"),
    ],
)
def test_the_forwarded_chain_is_walked_from_our_side(peer: str, header: str, client: str) -> None:
    assert forwarded_client(peer, header, trusted_networks(["10.0.0.0/8"])) == client
