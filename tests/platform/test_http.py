"""`/graphql` over HTTP: GET for queries only, CSRF-safe; CORS; operation limits; introspection; GraphiQL."""

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.responses import Response
from strawberry.http import GraphQLHTTPResponse

from app import create_app
from core.settings import get_settings
from schema import build_schema
from schema.graphiql import STATIC_PATH, asset_urls
from schema.view import GraphQLView
from tests.helpers.client import GraphQLClient, error_code

ME = "query Me { me { id } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
DASHBOARD = "http://localhost:3000"


@asynccontextmanager
async def _app_with(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The real app built with changed settings, called in-process (it needs no lifespan for this)."""
    app = create_app(get_settings().model_copy(update=overrides))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http


async def test_a_get_query_with_a_preflight_header_runs(gql: GraphQLClient) -> None:
    for headers in ({"Apollo-Require-Preflight": "true"}, {"Content-Type": "application/json"}):
        response = await gql.http.get("/graphql", params={"query": ME}, headers=headers)
        assert (response.status_code, response.json()) == (200, {"data": {"me": None}}), headers


async def test_a_get_query_without_a_preflight_header_is_refused_as_possible_csrf(gql: GraphQLClient) -> None:
    response = await gql.http.get("/graphql", params={"query": ME}, headers={"Accept": "text/html"})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error_code(error) == "BAD_REQUEST"
    assert error["message"].startswith("This request could be a cross-site request forgery")


async def test_a_mutation_over_get_is_refused_and_changes_nothing(gql: GraphQLClient) -> None:
    # Given a logout mutation sent over GET by a client that even sends the preflight header
    mutation = 'mutation { logout(refreshToken: "x") }'
    response = await gql.http.get(
        "/graphql", params={"query": mutation}, headers={"Apollo-Require-Preflight": "true"}
    )
    # Then it is refused before running
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"message": "mutations are not allowed when using GET", "extensions": {"code": "BAD_REQUEST"}}
        ]
    }


async def test_a_browser_opening_graphql_gets_graphiql(gql: GraphQLClient) -> None:
    response = await gql.http.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>StudyMate GraphiQL</title>" in response.text


async def test_graphiql_loads_only_assets_served_by_the_api(gql: GraphQLClient) -> None:
    # Given the GraphiQL page
    page = (await gql.http.get("/graphql", headers={"Accept": "text/html"})).text
    # Then every script and stylesheet it loads is a local path, and there are no other URLs in it
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert referenced == asset_urls()
    assert re.findall(r"https?://", page) == []
    # And the api serves each of them
    for url in referenced:
        assert urlsplit(url).netloc == "" and url.startswith(f"{STATIC_PATH}/")
        response = await gql.http.get(url)
        assert (response.status_code, len(response.content) > 0) == (200, True), url


async def test_cors_preflight_allows_the_dashboard_origin_and_apollo_headers(gql: GraphQLClient) -> None:
    response = await gql.http.options(
        "/graphql",
        headers={
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, apollo-require-preflight",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    allowed = {
        header.strip().lower() for header in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "apollo-require-preflight"} <= allowed


async def test_cors_refuses_an_origin_that_is_not_configured(gql: GraphQLClient) -> None:
    response = await gql.http.options(
        "/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_request_id_is_echoed_and_one_is_made_when_missing(gql: GraphQLClient) -> None:
    given = await gql.http.post("/graphql", json={"query": ME}, headers={"X-Request-Id": "abc-123"})
    made = await gql.http.post("/graphql", json={"query": ME}, headers={"X-Request-Id": "two words"})
    assert given.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


async def test_too_many_aliases_are_refused(gql: GraphQLClient) -> None:
    limit = get_settings().graphql_max_aliases
    query = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(limit + 1)) + " }"
    error = await gql.error(query)
    assert (error["message"], error_code(error)) == (
        f"{limit + 1} aliases found. Allowed: {limit}",
        "GRAPHQL_VALIDATION_FAILED",
    )


async def test_too_many_tokens_are_refused(gql: GraphQLClient) -> None:
    limit = get_settings().graphql_max_tokens
    query = "{ me { " + "id " * limit + "} }"
    body = await gql.execute(query)
    assert body["data"] is None
    assert [(error["message"], error_code(error)) for error in body["errors"]] == [
        (
            f"Syntax Error: Document contains more than {limit} tokens. Parsing aborted.",
            "GRAPHQL_PARSE_FAILED",
        )
    ]


async def test_a_document_that_does_not_parse_is_answered_with_the_parse_code(gql: GraphQLClient) -> None:
    body = await gql.execute("{ me { id ")
    assert [(error["message"], error_code(error)) for error in body["errors"]] == [
        ("Syntax Error: Expected Name, found <EOF>.", "GRAPHQL_PARSE_FAILED")
    ]


async def test_a_query_deeper_than_the_setting_is_refused() -> None:
    # Depth counts from 0 at the root fields: `me { profile { bio } }` is 2 deep.
    async with _app_with(graphql_max_depth=1) as http:
        shallow = await http.post("/graphql", json={"query": "{ me { id } }"})
        deep = await http.post("/graphql", json={"query": "query Deep { me { profile { bio } } }"})
    assert shallow.json() == {"data": {"me": None}}
    [error] = deep.json()["errors"]
    assert (error["message"], error_code(error)) == (
        "'Deep' exceeds maximum operation depth of 1",
        "GRAPHQL_VALIDATION_FAILED",
    )


async def test_introspection_is_on_by_default(gql: GraphQLClient) -> None:
    assert await gql.data(INTROSPECTION) == {"__schema": {"queryType": {"name": "Query"}}}


async def test_introspection_can_be_switched_off() -> None:
    async with _app_with(graphql_introspection=False) as http:
        response = await http.post("/graphql", json={"query": INTROSPECTION})
    body = response.json()
    assert body["data"] is None
    first = body["errors"][0]
    assert (first["message"], error_code(first)) == (
        "GraphQL introspection has been disabled, but the requested query contained the field '__schema'.",
        "GRAPHQL_VALIDATION_FAILED",
    )


def test_a_response_body_holds_what_orjson_refuses_as_the_standard_encoder_writes_it() -> None:
    # Given a response with an integer beyond 64 bits (a JSON scalar may hold one), and an ordinary one
    view = GraphQLView(build_schema(), get_settings())
    long_integer: GraphQLHTTPResponse = {"data": {"value": 2**70, "text": "é"}}
    ordinary: GraphQLHTTPResponse = {"data": {"lecture": {"title": "Ünïcode", "order": 3}}}
    # When they become response bodies and websocket frames
    bodies = [bytes(view.create_response(response, Response()).body) for response in (long_integer, ordinary)]
    # Then both are the JSON the standard encoder reads back to the same value, as bytes and as text
    assert [json.loads(body) for body in bodies] == [long_integer, ordinary]
    assert json.loads(view.encode_json(long_integer)) == long_integer
