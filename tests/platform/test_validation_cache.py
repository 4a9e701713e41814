"""Parsing and validation run once per distinct document: a repeated request (or subscribe) reuses them."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema

from tests.helpers.client import TRANSPORT_WS, GraphQLClient, subscription
from tests.helpers.factories import make_account
from tests.helpers.notifications import notify


@contextmanager
def count_validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every document graphql-core validates while the block runs (the cache calls it on a miss only)."""
    validated: list[str] = []
    validate = strawberry_schema.validate

    def counting(schema: Any, document: Any, *args: Any, **kwargs: Any) -> Any:
        validated.append(document.loc.source.body if document.loc else "")
        return validate(schema, document, *args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    yield validated


async def test_a_repeated_query_is_validated_once(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a document this server has not seen
    query = f"query Unseen{uuid.uuid4().hex} {{ __typename }}"
    with count_validations(monkeypatch) as validated:
        # When it is sent three times
        for _ in range(3):
            assert await gql.data(query) == {"__typename": "Query"}
    # Then it was validated once
    assert validated == [query]


async def test_an_invalid_query_is_refused_every_time(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a document that fails validation
    query = f"query Unseen{uuid.uuid4().hex} {{ noSuchField }}"
    with count_validations(monkeypatch) as validated:
        # When it is sent twice
        codes = [(await gql.error(query))["extensions"]["code"] for _ in range(2)]
    # Then both answers are the validation error, from one validation
    assert codes == ["GRAPHQL_VALIDATION_FAILED"] * 2
    assert len(validated) == 1


async def test_a_repeated_subscribe_is_validated_once(api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an account and a subscription document this server has not seen
    account = await make_account()
    query = f"subscription Unseen{uuid.uuid4().hex} {{ notifications {{ title }} }}"
    with count_validations(monkeypatch) as validated:
        # When three sockets in turn subscribe with it and each receives a notification
        for n in range(3):
            async with subscription(api_url, TRANSPORT_WS, token=account.token) as socket:
                await socket.start(query)
                await notify(account, f"note {n}")
                assert await socket.next_data() == {"notifications": {"title": f"note {n}"}}
    # Then it was validated once
    assert validated == [query]
