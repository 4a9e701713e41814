"""Generated operations over the whole schema, sent over HTTP to the real api with real ids and tokens:
no answer may be a 5xx, an error without a code, or INTERNAL_SERVER_ERROR.

Every query and mutation field is called with generated arguments (real ids, garbage ids, hostile
strings, edge-case numbers, nulls, missing optionals) and a generated selection, by an instructor, a
student, a session participant or nobody. Slow, so it runs only when FUZZ_CASES is set (`make fuzz`,
2,000 cases); FUZZ_SEED picks the run (the seed is printed with any failure).
"""

import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

from core.auth import Role
from core.db import transaction
from resolvers import notifications
from tests.classroom_factories import join, make_classroom
from tests.client import GraphQLClient, error_code
from tests.factories import make_account

CASES = int(os.environ.get("FUZZ_CASES", "0"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.graphql"
MAX_SELECTION_DEPTH = 3

pytestmark = pytest.mark.skipif(not CASES, reason="set FUZZ_CASES to run the schema fuzz (make fuzz)")

HOSTILE_STRINGS = [
    "",
    " ",
    "x",
    "hello",
    "Grandma Lee",
    "ünïcödé ✓ 한국어",
    "e\u0301",
    "x" * 300,
    "x" * 5000,
    "\u0000",
    "a\u0000b",
    "\u202egnp.exe",
    "line\nbreak",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "🙂" * 10,
    "user@example.com",
    "../../etc/passwd",
    "{}",
    "NaN",
]
INTS = [0, 1, -1, 2, 5, 20, 100, 101, 500, 2**31 - 1, -(2**31)]
FLOATS = [0.0, 1.5, -1.0, 0.5, 1e308, -1e308]
DATETIMES = [
    datetime.now(UTC).isoformat(),
    "1970-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "2026-01-01T00:00:00",
    "not-a-date",
    "",
]
JSONS: list[Any] = [
    {},
    {"a": 1},
    [1, 2, 3],
    "x",
    1,
    None,
    {"nested": {"deep": [1, {"x": "y"}]}},
    {"k": "\u0000"},
]


@dataclass
class Pools:
    ids: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=lambda: list(HOSTILE_STRINGS))
    tokens: list[str | None] = field(default_factory=lambda: [None])


class Generator:
    def __init__(self, schema: GraphQLSchema, pools: Pools, rng: random.Random) -> None:
        self.schema = schema
        self.pools = pools
        self.rng = rng

    def value(self, type_: GraphQLInputType, depth: int = 0) -> Any:
        if isinstance(type_, GraphQLNonNull):
            return self._value(type_.of_type, depth)
        if self.rng.random() < 0.1:
            return None
        return self._value(type_, depth)

    def _value(self, type_: Any, depth: int) -> Any:
        rng = self.rng
        if isinstance(type_, GraphQLList):
            return [self.value(type_.of_type, depth + 1) for _ in range(rng.randint(0, 3))]
        if isinstance(type_, GraphQLEnumType):
            return rng.choice(list(type_.values))
        if isinstance(type_, GraphQLInputObjectType):
            result: dict[str, Any] = {}
            for name, input_field in type_.fields.items():
                required = isinstance(input_field.type, GraphQLNonNull)
                if (required or rng.random() < 0.5) and depth < 4:
                    result[name] = self.value(input_field.type, depth + 1)
            return result
        assert isinstance(type_, GraphQLScalarType), type_
        return self._scalar(type_.name)

    def _scalar(self, name: str) -> Any:
        rng = self.rng
        if name == "ID":
            if self.pools.ids and rng.random() < 0.7:
                return rng.choice(self.pools.ids)
            return rng.choice([str(uuid.uuid4()), "not-a-uuid", "", "0" * 40, "\u0000"])
        if name == "Int":
            return rng.choice(INTS)
        if name == "Float":
            return rng.choice(FLOATS)
        if name == "Boolean":
            return rng.random() < 0.5
        if name == "DateTime":
            return rng.choice(DATETIMES)
        if name == "JSON":
            return rng.choice(JSONS)
        return rng.choice(self.pools.strings)

    def selection(self, type_: GraphQLOutputType, depth: int = 0) -> str:
        named: Any = type_
        while isinstance(named, GraphQLNonNull | GraphQLList):
            named = named.of_type
        if isinstance(named, GraphQLScalarType | GraphQLEnumType):
            return ""
        if isinstance(named, GraphQLUnionType):
            return "{ __typename }"
        assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType), named
        parts = ["__typename"]
        fields: list[tuple[str, GraphQLField]] = list(named.fields.items())
        self.rng.shuffle(fields)
        for name, output_field in fields[: self.rng.randint(1, 6)]:
            if any(isinstance(arg.type, GraphQLNonNull) for arg in output_field.args.values()):
                continue
            inner = self.selection(output_field.type, depth + 1)
            if inner:
                if depth < MAX_SELECTION_DEPTH:
                    parts.append(f"{name} {inner}")
            else:
                parts.append(name)
        return "{ " + " ".join(parts) + " }"

    def operation(self) -> tuple[str, dict[str, Any]]:
        kind, root = self.rng.choice(
            [("query", self.schema.query_type), ("mutation", self.schema.mutation_type)]
        )
        assert root is not None
        name, root_field = self.rng.choice(list(root.fields.items()))
        definitions, arguments, variables = [], [], {}
        for index, (arg_name, argument) in enumerate(root_field.args.items()):
            required = isinstance(argument.type, GraphQLNonNull)
            # Sometimes a required one is left out too: that must be a validation error, not a crash.
            if (required and self.rng.random() < 0.97) or (not required and self.rng.random() < 0.5):
                definitions.append(f"$a{index}: {argument.type}")
                arguments.append(f"{arg_name}: $a{index}")
                variables[f"a{index}"] = self.value(argument.type)
        header = f"({', '.join(definitions)})" if definitions else ""
        call = f"{name}({', '.join(arguments)})" if arguments else name
        return f"{kind} Fuzz{header} {{ {call} {self.selection(root_field.type)} }}", variables


async def _pools(gql: GraphQLClient) -> Pools:
    """Real data to aim at: a live classroom with a participant, a recording and notifications."""
    pools = Pools()
    room = await make_classroom(steps=3, start=True)
    joined = await join(room)
    student = await make_account()
    admin = await make_account(Role.ADMIN)
    recording = await gql.data(
        'mutation { startRecording(title: "Fuzz") { id } }', token=room.instructor.token
    )
    async with transaction() as db:
        created = await notifications.create_in_app(
            db, student.user.id, kind="fuzz", title="t", body="b", dedupe_key="fuzz"
        )
    assert created is not None
    pools.ids += [
        str(room.lecture.id),
        str(room.task.id),
        str(room.session.id),
        *(str(step.id) for step in room.steps),
        joined.id,
        recording["startRecording"]["id"],
        str(created.id),
        student.id,
        room.instructor.id,
    ]
    pools.strings.append(room.session.code)
    pools.tokens += [room.instructor.token, student.token, joined.token, admin.token]
    return pools


async def test_generated_operations_never_answer_internal_server_error(gql: GraphQLClient) -> None:
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    rng = random.Random(SEED)
    pools = await _pools(gql)
    generator = Generator(schema, pools, rng)
    failures: list[str] = []
    for case in range(CASES):
        query, variables = generator.operation()
        token = rng.choice(pools.tokens)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await gql.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else None
        )
        errors = (body or {}).get("errors") or []
        bad = response.status_code >= 500 or body is None
        bad = bad or any(error_code(error) in (None, "INTERNAL_SERVER_ERROR") for error in errors)
        if bad:
            failures.append(
                f"case {case}: {response.status_code} {query} {variables!r} -> {response.text[:300]}"
            )
    print(f"schema fuzz: {CASES} cases, seed {SEED}, {len(failures)} failures")
    assert not failures, f"seed {SEED}, {len(failures)} of {CASES} failed:\n" + "\n".join(failures[:20])
