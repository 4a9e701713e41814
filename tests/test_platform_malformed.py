"""Malformed requests each get a GraphQL error body with a code: never a plain-text answer, never a 500,
never an unmasked message."""

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from core.db import transaction
from resolvers import notifications
from tests.client import GraphQLClient, error_code
from tests.factories import make_account

JSON = {"Content-Type": "application/json"}
LIST = "query($after: String) { notifications(first: 2, after: $after) { edges { cursor } } }"


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _only_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    [error] = response.json()["errors"]
    assert isinstance(error, dict)
    return error


@pytest.mark.parametrize(
    "body",
    [
        b'"x"',
        b"null",
        b"42",
        b"[]",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"\xff\xfe{}",
        b'{"query": 5}',
        b'{"query": "{ __typename }", "variables": "x"}',
        b'{"query": "{ __typename }", "operationName": ["x"]}',
        b'{"query": "{ __typename }", "extensions": 1}',
    ],
    ids=[
        "string",
        "null",
        "number",
        "list",
        "nested-lists",
        "nested-objects",
        "bad-utf8",
        "query-number",
        "variables-string",
        "operation-name-list",
        "extensions-number",
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_a_bad_request(gql: GraphQLClient, body: bytes) -> None:
    response = await gql.http.post("/graphql", content=body, headers=JSON)
    assert response.status_code == 400
    assert error_code(_only_error(response)) == "BAD_REQUEST"


async def test_a_subscription_over_http_post_is_a_bad_request_and_runs_nothing(gql: GraphQLClient) -> None:
    account = await make_account()
    response = await gql.http.post(
        "/graphql",
        json={"query": "subscription { notifications { id } }"},
        headers={"Authorization": f"Bearer {account.token}"},
    )
    assert response.status_code == 400
    error = _only_error(response)
    assert (error_code(error), error["message"]) == (
        "BAD_REQUEST",
        "subscriptions are not allowed when using POST",
    )


async def test_an_unknown_fragment_is_a_validation_error(gql: GraphQLClient) -> None:
    response = await gql.http.post("/graphql", json={"query": "{ me { ...Missing } }"})
    error = _only_error(response)
    assert (error_code(error), error["message"]) == (
        "GRAPHQL_VALIDATION_FAILED",
        "Unknown fragment 'Missing'.",
    )


async def test_fragment_cycles_are_validation_errors(gql: GraphQLClient) -> None:
    query = "{ me { ...A } } fragment A on User { ...B } fragment B on User { ...A }"
    response = await gql.http.post("/graphql", json={"query": query})
    codes = {error_code(error) for error in response.json()["errors"]}
    assert codes == {"GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(
    "after",
    [
        "x",
        "%%%",
        "A" * 100_000,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _cursor({"a": 1}),
        _cursor([1]),
        _cursor([[[[1]]], 2]),
        _cursor(["2020-01-01T00:00:00", str(uuid.uuid4())]),
        _cursor(["9999-12-31T23:59:59-14:00", str(uuid.uuid4())]),
        _cursor(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())]),
        _cursor(["2020-01-01T00:00:00+00:00", "not-a-uuid"]),
        _cursor(["\u0000", str(uuid.uuid4())]),
        _cursor(["99999-01-01T00:00:00+00:00", str(uuid.uuid4())]),
    ],
    ids=[
        "x",
        "percent",
        "huge",
        "bad-utf8",
        "object",
        "short",
        "nested",
        "naive-time",
        "after-year-9999",
        "before-year-1",
        "bad-uuid",
        "nul",
        "year-99999",
    ],
)
async def test_a_garbage_or_out_of_range_cursor_is_bad_user_input(gql: GraphQLClient, after: str) -> None:
    account = await make_account()
    error = await gql.error(LIST, {"after": after}, token=account.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "after")


async def test_a_real_cursor_still_pages(gql: GraphQLClient) -> None:
    account = await make_account()
    for n in range(3):
        async with transaction() as db:
            await notifications.create_in_app(
                db, account.user.id, kind="k", title="t", body="b", dedupe_key=f"cursor:{n}"
            )
    first = (await gql.data(LIST, token=account.token))["notifications"]["edges"]
    rest = (await gql.data(LIST, {"after": first[-1]["cursor"]}, token=account.token))["notifications"][
        "edges"
    ]
    assert (len(first), len(rest)) == (2, 1)
