"""The document store: each text parsed and validated once, with the limits, within its size bound."""

import pytest
from graphql import GraphQLSyntaxError, specified_rules
from strawberry.extensions import MaxAliasesLimiter

from schema import build_schema
from schema.documents import DocumentStore

RULES = tuple(specified_rules)


def _store(max_size: int = 2) -> DocumentStore:
    return DocumentStore(
        max_tokens=20, limit_rules=MaxAliasesLimiter(max_alias_count=1).validation_rules, max_size=max_size
    )


def test_a_text_is_parsed_once_until_it_is_the_least_recently_used_beyond_the_bound() -> None:
    store = _store(max_size=2)
    first = store.parse("{ a: __typename }")
    assert store.parse("{ a: __typename }") is first
    second = store.parse("{ b: __typename }")
    store.parse("{ a: __typename }")  # used again: now the second text is the oldest
    store.parse("{ c: __typename }")
    assert store.parse("{ a: __typename }") is first
    assert store.parse("{ b: __typename }") is not second


def test_the_token_limit_refuses_a_long_document_every_time() -> None:
    store = _store()
    long_document = "{ " + " ".join(["__typename"] * 30) + " }"
    for _ in range(2):
        with pytest.raises(GraphQLSyntaxError, match="more than 20 tokens"):
            store.parse(long_document)


def test_validation_runs_once_with_the_limits_as_well_as_the_given_rules() -> None:
    store = _store()
    schema = build_schema()._schema
    query = "{ a: __typename b: __typename }"
    document = store.parse(query)
    errors = store.validate(schema, query, document, RULES)
    assert [error.message for error in errors] == ["2 aliases found. Allowed: 1"]
    assert store.validate(schema, query, document, RULES) is errors
    # Other rules, another answer; a document that came without text is validated each time.
    assert store.validate(schema, query, document, ()) is not errors
    assert store.validate(schema, None, document, RULES) is not errors
