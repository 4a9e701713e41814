"""Generated queries and mutations against the running api: whatever a client sends, the answer is data
or a GraphQL error with a client code, never an INTERNAL_SERVER_ERROR or a plain-text 500.

Documents come from `schema.graphql` through hypothesis-graphql; ids are drawn from real rows made
first (a lecture, task, steps, a started live session, a participant, a help request, a recording) mixed
with random strings; each request is sent as the instructor, a student, the participant or anonymously.
`make fuzz` runs FUZZ_EXAMPLES=2000; the regular suite runs a short sample.
"""

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import strategies as gql_st

from tests.client import GraphQLClient

SCHEMA = Path(__file__).resolve().parents[2].joinpath("schema.graphql").read_text()
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
# Codes a server answers for a request that is the client's fault, or a refusal by design.
CLIENT_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "RATE_LIMITED",
    "PAYMENT_REQUIRED",
    "AI_UNAVAILABLE",
    "BILLING_UNAVAILABLE",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "PERSISTED_QUERY_NOT_FOUND",
    "BAD_REQUEST",
    "PAYLOAD_TOO_LARGE",
}
STEPS = '[{title: "Open the app", guideText: "Tap the green icon"}, {title: "Send", guideText: "Tap send"}]'


async def _seed(gql: GraphQLClient) -> tuple[list[str], list[str | None]]:
    """Real rows to aim at, made through the API; returns their ids and the tokens to send."""
    instructor = await gql.data(
        """mutation { register(input: {email: "fuzz-teacher@example.com", password: "correct horse battery",
           name: "Teacher", instructorInviteCode: "test-instructor"}) { accessToken user { id } } }"""
    )
    student = await gql.data(
        """mutation { register(input: {email: "fuzz-student@example.com", password: "correct horse battery",
           name: "Student"}) { accessToken user { id } } }"""
    )
    teacher_token = instructor["register"]["accessToken"]
    lecture = await gql.data(
        'mutation { createLecture(input: {title: "Photos"}) { id } }', token=teacher_token
    )
    lecture_id = lecture["createLecture"]["id"]
    task = await gql.data(
        f'mutation {{ createTask(lectureId: "{lecture_id}", input: {{title: "Send", steps: {STEPS}}}) '
        "{ id steps { id } } }",
        token=teacher_token,
    )
    task_id = task["createTask"]["id"]
    session = await gql.data(
        f'mutation {{ createLiveSession(lectureId: "{lecture_id}", taskId: "{task_id}") {{ id code }} }}',
        token=teacher_token,
    )
    session_id = session["createLiveSession"]["id"]
    await gql.data(f'mutation {{ startSession(id: "{session_id}") {{ id }} }}', token=teacher_token)
    joined = await gql.data(
        f'mutation {{ joinSession(code: "{session["createLiveSession"]["code"]}", displayName: "Grandma") '
        "{ participant { id } participantToken } }"
    )
    participant_token = joined["joinSession"]["participantToken"]
    help_request = await gql.data(
        f'mutation {{ requestHelp(sessionId: "{session_id}", message: "lost") {{ id }} }}',
        token=participant_token,
    )
    recording = await gql.data('mutation { startRecording(title: "Demo") { id } }', token=teacher_token)
    ids = [
        instructor["register"]["user"]["id"],
        student["register"]["user"]["id"],
        lecture_id,
        task_id,
        *(step["id"] for step in task["createTask"]["steps"]),
        session_id,
        joined["joinSession"]["participant"]["id"],
        help_request["requestHelp"]["id"],
        recording["startRecording"]["id"],
    ]
    tokens = [teacher_token, student["register"]["accessToken"], participant_token, None]
    return ids, tokens


def _id_nodes(ids: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    values = st.one_of(st.sampled_from(ids), st.text(max_size=40))
    return values.map(lambda value: graphql.StringValueNode(value=value))


def _string_nodes(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return values.map(lambda value: graphql.StringValueNode(value=value))


def _json_node(value: Any) -> graphql.ValueNode:
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(_json_node(item) for item in value))
    if isinstance(value, dict):
        fields = (
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=_json_node(item))
            for key, item in value.items()
        )
        return graphql.ObjectValueNode(fields=tuple(fields))
    return graphql.NullValueNode()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), children, max_size=4)
    ),
    max_leaves=12,
)
# Text that has broken servers before: NUL and control characters, look-alikes, very long runs.
_NASTY = st.sampled_from(["\x00", "a\x00b", "\x1b[31m", "\u202e", "\ufeff", "\uff21", "\ud7ff", " ", ""])
_STRINGS = st.one_of(
    st.text(max_size=30),
    st.tuples(st.text(max_size=10), _NASTY, st.text(max_size=10)).map("".join),
    st.text(alphabet="x", min_size=300, max_size=3000),
)
# Dates and times both valid and not; the server must refuse the bad ones with a client code.
_DATES = st.one_of(st.dates().map(str), st.text(max_size=12))
_DATETIMES = st.one_of(st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), st.text(max_size=30))


def _failures(status: int, body: Any) -> list[str]:
    if status >= 500:
        return [f"HTTP {status}"]
    if not isinstance(body, dict):
        return [f"not a GraphQL response: {body!r}"[:200]]
    problems = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in CLIENT_CODES:
            problems.append(f"{code}: {error.get('message')}")
    return problems


def _run(api_url: str, ids: list[str], tokens: list[str | None]) -> int:
    """Sends the generated operations; answers how many were sent."""
    scalars = {
        "ID": _id_nodes(ids),
        "String": _string_nodes(_STRINGS),
        "Int": st.integers(min_value=-(2**31), max_value=2**31 - 1).map(
            lambda value: graphql.IntValueNode(value=str(value))
        ),
        "DateTime": _string_nodes(_DATETIMES),
        "Date": _string_nodes(_DATES),
        "JSON": _JSON_VALUES.map(_json_node),
    }
    declared = {name for name, kind in graphql.build_schema(SCHEMA).type_map.items() if kind}
    scalars = {name: strategy for name, strategy in scalars.items() if name in declared}
    documents = st.one_of(
        gql_st.queries(SCHEMA, custom_scalars=scalars), gql_st.mutations(SCHEMA, custom_scalars=scalars)
    )
    sent = 0
    with httpx.Client(base_url=api_url, timeout=30) as http:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(document=documents, token=st.sampled_from(tokens))
        def answers_without_internal_errors(document: str, token: str | None) -> None:
            nonlocal sent
            sent += 1
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = http.post("/graphql", json={"query": document}, headers=headers)
            try:
                body = response.json()
            except ValueError:
                body = response.text
            problems = _failures(response.status_code, body)
            assert not problems, f"{document}\n→ {problems}"

        answers_without_internal_errors()
    return sent


async def test_generated_operations_never_answer_internal_errors(gql: GraphQLClient, api_url: str) -> None:
    # Given real rows to aim at
    ids, tokens = await _seed(gql)

    # When generated operations are sent (from a thread: the api serves on this test's event loop)
    # Then every answer is data or an error with a client code
    sent = await asyncio.to_thread(_run, api_url, ids, tokens)
    print(f"{sent} generated operations sent, none answered with an internal error")
    assert sent >= EXAMPLES
