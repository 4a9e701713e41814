"""JSON-lines logs without secrets, and errors: domain codes shown, everything else masked and logged."""

import json
import logging
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Any

import strawberry

from core.errors import BadInput
from core.logging import JsonFormatter, request_id_var
from schema.errors import DomainErrors
from schema.telemetry import OperationTelemetry
from tests.client import GraphQLClient, error_code
from tests.factories import PASSWORD, make_account

LOGIN = """mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken } }"""
INTERNALS = "connection to 10.0.0.5 refused"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@contextmanager
def _captured_logs() -> Iterator[_Lines]:
    handler = _Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


async def test_a_login_logs_its_operation_and_request_id_but_never_the_password_or_tokens(
    gql: GraphQLClient,
) -> None:
    # Given an account, when it signs in
    account = await make_account()
    with _captured_logs() as logs:
        response = await gql.http.post(
            "/graphql",
            json={"query": LOGIN, "variables": {"email": account.user.email, "password": PASSWORD}},
            headers={"X-Request-Id": "login-1"},
        )
    tokens = response.json()["data"]["login"]
    # Then its access line is JSON with the request id and operation name
    [access] = [entry for entry in logs.entries() if entry["logger"] == "studymate.access"]
    assert {
        key: access[key] for key in ("message", "requestId", "operation", "method", "path", "status")
    } == {
        "message": "request",
        "requestId": "login-1",
        "operation": "Login",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
    }
    # And nothing logged contains the password or either token
    everything = "\n".join(logs.lines)
    for secret in (PASSWORD, tokens["accessToken"], tokens["refreshToken"]):
        assert secret not in everything


async def test_a_signed_in_request_logs_the_user_id(gql: GraphQLClient) -> None:
    account = await make_account()
    with _captured_logs() as logs:
        await gql.data("query Me { me { id } }", token=account.token)
    [access] = [entry for entry in logs.entries() if entry["logger"] == "studymate.access"]
    assert (access["operation"], access["userId"]) == ("Me", account.id)
    assert account.token not in "\n".join(logs.lines)


@strawberry.type
class _Query:
    @strawberry.field
    def broken(self) -> int:
        raise ConnectionError(INTERNALS)

    @strawberry.field
    def refused(self) -> int:
        raise BadInput("Age must be positive", field="age")


@strawberry.type
class _Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        yield 1
        raise ConnectionError(INTERNALS)


# A schema of its own with the platform's error extensions, so that an unexpected failure can be caused.
_schema = strawberry.Schema(
    query=_Query, subscription=_Subscription, extensions=[OperationTelemetry, DomainErrors]
)


async def test_a_domain_error_keeps_its_message_code_and_field() -> None:
    result = await _schema.execute("{ refused }")
    assert [(e.message, e.extensions) for e in result.errors or []] == [
        ("Age must be positive", {"code": "BAD_USER_INPUT", "field": "age"})
    ]


async def test_an_unexpected_error_is_masked_with_the_request_id_and_logged() -> None:
    # Given a request whose resolver fails unexpectedly
    request_id_var.set("req-42")
    with _captured_logs() as logs:
        result = await _schema.execute("query Broken { broken }")
    # Then the client sees no internals, only the code and the request id
    assert [(e.message, e.extensions) for e in result.errors or []] == [
        ("Internal server error", {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"})
    ]
    # And the log has the whole story under the same request id
    [logged] = [entry for entry in logs.entries() if entry["logger"] == "studymate.errors"]
    assert (logged["requestId"], logged["operation"]) == ("req-42", "Broken")
    assert INTERNALS in logged["exception"]


async def test_an_unexpected_error_in_a_subscription_is_masked_too() -> None:
    request_id_var.set("req-43")
    stream = await _schema.subscribe("subscription { ticks }")
    assert not isinstance(stream, strawberry.types.ExecutionResult)
    with _captured_logs() as logs:
        results = [result async for result in stream]
    assert [(r.data, [(e.message, e.extensions) for e in r.errors or []]) for r in results] == [
        ({"ticks": 1}, []),
        (None, [("Internal server error", {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-43"})]),
    ]
    assert any(INTERNALS in entry.get("exception", "") for entry in logs.entries())


REGISTER = """mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken user { id } } }"""
SECRET = "Sup3r-Secret-Passw0rd"


async def test_invalid_variables_are_bad_user_input_with_their_path_and_never_logged(
    gql: GraphQLClient,
) -> None:
    cases = [
        # register without a name
        (REGISTER, {"input": {"email": "a@example.com", "password": SECRET}}, "input.name"),
        # the password sent as a list
        (
            REGISTER,
            {"input": {"email": "a@example.com", "password": [SECRET], "name": "A"}},
            "input.password",
        ),
        (LOGIN, {"email": "a@example.com", "password": [SECRET]}, "password"),
        (LOGIN, {"email": "a@example.com"}, "password"),
    ]
    for query, variables, path in cases:
        # When the request is sent
        with _captured_logs() as logs:
            response = await gql.http.post("/graphql", json={"query": query, "variables": variables})
        # Then it is the client's mistake, located at the variable's path
        [error] = response.json()["errors"]
        assert (error_code(error), error["extensions"].get("field")) == ("BAD_USER_INPUT", path), error
        # And the password appears in no log line
        assert SECRET not in "\n".join(logs.lines)


def test_the_log_formatter_redacts_sensitive_fields_by_name() -> None:
    record = logging.LogRecord(
        "studymate.test", logging.ERROR, __file__, 1, "variables %s", ({"password": SECRET},), None
    )
    record.fields = {
        "variables": {"input": {"password": SECRET, "name": "Kim"}},
        "refreshToken": SECRET,
        "instructorInviteCode": SECRET,
        "status": 200,
    }
    entry = json.loads(JsonFormatter().format(record))
    assert SECRET not in json.dumps(entry)
    assert entry["variables"]["input"]["name"] == "Kim"
    assert entry["status"] == 200
