"""Automatic persisted queries over HTTP POST and GET, stored in Redis."""

import json

import httpx

from core.apq import query_hash
from core.ratelimit import APQ_REGISTRATIONS
from core.redis import redis
from core.settings import get_settings
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


async def _registers(gql: GraphQLClient, query: str) -> bool:
    """Sends `query` with its hash, as a client does after PersistedQueryNotFound; whether it was stored."""
    await gql.http.post("/graphql", json={"query": query, "extensions": _extensions(query)})
    return bool(await redis().exists(f"apq:{query_hash(query)}"))


async def test_only_a_document_that_parses_and_validates_is_stored(gql: GraphQLClient) -> None:
    assert not await _registers(gql, "this is not graphql " * 100)
    assert not await _registers(gql, "{ noSuchField }")
    assert not await _registers(gql, "{ me { ...Missing } }")
    assert await _registers(gql, ME)


async def test_a_valid_document_over_the_size_cap_runs_but_is_not_stored(gql: GraphQLClient) -> None:
    padded = ME + " " * get_settings().persisted_query_max_bytes
    response = await gql.http.post("/graphql", json={"query": padded, "extensions": _extensions(padded)})
    assert response.json() == {"data": {"me": None}}
    assert await redis().exists(f"apq:{query_hash(padded)}") == 0


async def test_registrations_are_rate_limited_per_client(gql: GraphQLClient) -> None:
    # Given a client that registers more distinct documents than its bucket holds
    capacity = int(APQ_REGISTRATIONS.capacity)
    queries = [f"query Q{n} {{ __typename }}" for n in range(capacity + 5)]
    for query in queries:
        response = await gql.http.post("/graphql", json={"query": query, "extensions": _extensions(query)})
        # Each one still runs
        assert response.json() == {"data": {"__typename": "Query"}}
    # Then only a bucket's worth were stored
    stored = [query for query in queries if await redis().exists(f"apq:{query_hash(query)}")]
    assert len(stored) == capacity
