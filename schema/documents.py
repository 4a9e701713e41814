"""Each distinct GraphQL document is parsed and validated once, with every limit, and then reused.

One extension does what Strawberry's ParserCache, ValidationCache, MaxTokensLimiter and
AddValidationRules (our depth and alias limits, and introspection when it is off) did as four, at a
fraction of their per-request cost. Both caches are keyed by the query text, whose hash Python keeps
with the string: a parsed document, ValidationCache's key, is hashed again node by node on every request.
Parse errors are not cached (a client that keeps sending a broken document pays for the parse each time,
as before); validation errors are, since validating again would find the same ones.
"""

from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from typing import Generic, TypeVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")
Rules = tuple[type[ASTValidationRule], ...]


class _LeastRecentlyUsed(Generic[Key, Value]):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[Key, Value] = OrderedDict()

    def get(self, key: Key) -> Value | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: Key, value: Value) -> None:
        self._entries[key] = value
        if len(self._entries) > self.max_size:
            self._entries.popitem(last=False)


class DocumentStore:
    """The parsed and validated documents of one schema, at most `max_size` of each."""

    def __init__(
        self, *, max_tokens: int, limit_rules: Sequence[type[ASTValidationRule]], max_size: int
    ) -> None:
        self.max_tokens = max_tokens
        self.limit_rules = tuple(limit_rules)
        self._documents: _LeastRecentlyUsed[str, DocumentNode] = _LeastRecentlyUsed(max_size)
        self._errors: _LeastRecentlyUsed[tuple[str, Rules], list[GraphQLError]] = _LeastRecentlyUsed(max_size)

    def parse(self, query: str) -> DocumentNode:
        """Raises GraphQLSyntaxError, as graphql-core's parse, for a broken document or one over the token
        limit."""
        document = self._documents.get(query)
        if document is None:
            document = parse(query, max_tokens=self.max_tokens)
            self._documents.put(query, document)
        return document

    def validate(
        self, schema: GraphQLSchema, query: str | None, document: DocumentNode, rules: Rules
    ) -> list[GraphQLError]:
        """The errors of `document` (parsed from `query`, if it came as text) under `rules` and the limits."""
        if query is None:
            return validate_document(schema, document, (*rules, *self.limit_rules))
        errors = self._errors.get((query, rules))
        if errors is None:
            errors = validate_document(schema, document, (*rules, *self.limit_rules))
            self._errors.put((query, rules), errors)
        return errors


class ParsedAndValidated(SchemaExtension):
    """Parses and validates through `store` (shared by every operation of the schema)."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        if execution.graphql_document is None and execution.query:
            execution.graphql_document = self.store.parse(execution.query)
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None and execution.pre_execution_errors is None:
            execution.pre_execution_errors = self.store.validate(
                execution.schema._schema, execution.query, document, execution.validation_rules
            )
        yield
