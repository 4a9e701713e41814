"""Automatic persisted queries over HTTP POST and GET, stored in Redis."""

import json

import httpx

from core.apq import query_hash
from core.redis import redis
from tests.client import GraphQLClient, error_code
from tests.factories import make_account

ME = "query Me { me { id } }"
PREFLIGHT = {"Apollo-Require-Preflight": "true"}
NOT_FOUND = {
    "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
}


def _extensions(query: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": query_hash(query)}}


async def _get(http: httpx.AsyncClient, query: str | None, extensions: dict[str, object]) -> httpx.Response:
    params = {"extensions": json.dumps(extensions), "operationName": "Me"}
    if query is not None:
        params["query"] = query
    return await http.get("/graphql", params=params, headers=PREFLIGHT)


async def test_an_unknown_hash_over_post_answers_persisted_query_not_found(gql: GraphQLClient) -> None:
    response = await gql.http.post("/graphql", json={"extensions": _extensions(ME)})
    assert (response.status_code, response.json()) == (200, NOT_FOUND)


async def test_an_unknown_hash_over_get_answers_persisted_query_not_found(gql: GraphQLClient) -> None:
    response = await _get(gql.http, None, _extensions(ME))
    assert (response.status_code, response.json()) == (200, NOT_FOUND)


async def test_after_the_full_query_is_sent_once_the_hash_alone_runs_it(gql: GraphQLClient) -> None:
    # Given a client that got PersistedQueryNotFound and then sent the query with its hash
    account = await make_account()
    headers = {"Authorization": f"Bearer {account.token}"}
    first = await gql.http.post(
        "/graphql", json={"query": ME, "extensions": _extensions(ME)}, headers=headers
    )
    assert first.json() == {"data": {"me": {"id": account.id}}}
    # When it sends the hash alone, over POST and over GET
    by_post = await gql.http.post("/graphql", json={"extensions": _extensions(ME)}, headers=headers)
    by_get = await gql.http.get(
        "/graphql", params={"extensions": json.dumps(_extensions(ME))}, headers={**headers, **PREFLIGHT}
    )
    # Then both run the stored query, which Redis keeps for the configured time
    assert by_post.json() == by_get.json() == {"data": {"me": {"id": account.id}}}
    assert 0 < await redis().ttl(f"apq:{query_hash(ME)}") <= 7 * 24 * 3600


async def test_a_query_registered_over_get_is_stored_too(gql: GraphQLClient) -> None:
    registered = await _get(gql.http, ME, _extensions(ME))
    assert registered.json() == {"data": {"me": None}}
    assert (await _get(gql.http, None, _extensions(ME))).json() == {"data": {"me": None}}


async def test_a_query_that_does_not_match_its_hash_is_refused_and_not_stored(gql: GraphQLClient) -> None:
    # Given a query sent under the hash of another query
    other = "{ me { email } }"
    response = await gql.http.post("/graphql", json={"query": other, "extensions": _extensions(ME)})
    # Then it is refused without running, and the hash still names nothing
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["message"], error_code(error)) == ("provided sha does not match query", "BAD_USER_INPUT")
    assert await redis().exists(f"apq:{query_hash(ME)}") == 0
    retry = await gql.http.post("/graphql", json={"extensions": _extensions(ME)})
    assert retry.json() == NOT_FOUND


async def test_an_unsupported_persisted_query_version_is_refused(gql: GraphQLClient) -> None:
    extensions = {"persistedQuery": {"version": 2, "sha256Hash": query_hash(ME)}}
    response = await gql.http.post("/graphql", json={"query": ME, "extensions": extensions})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["message"], error_code(error)) == ("Unsupported persisted query version", "BAD_USER_INPUT")
