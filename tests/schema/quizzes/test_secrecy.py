"""Answer keys never reach a student: every field of `Quiz` (found by introspection) through every way a
student reaches a quiz, checked for key material."""

import json
from typing import Any

from core.auth import Role
from models.study import Subject
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account, make_account
from tests.helpers.quizzes import create_quiz, make_subject

SECRETS = [
    "ZEBRA-ACCEPTED",
    "YAK-ACCEPTED",
    "BLANK-ONE-KEY",
    "BLANK-TWO-KEY",
    "RUBRIC-SECRET",
    "EXPLANATION-SECRET",
    "answerBoolean",
    "acceptedAnswers",
    "blankAnswers",
    "rubric",
]
INTROSPECT = """query($name: String!) { __type(name: $name) { fields { name args { name }
  type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }"""


def _named(type_ref: dict[str, Any]) -> tuple[str, str]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref["kind"], type_ref["name"]


async def _selection(
    gql: GraphQLClient, account: Account, type_name: str, seen: frozenset[str] = frozenset()
) -> str:
    """Every field of the type without arguments, object fields expanded the same way (once per type)."""
    data = await gql.data(INTROSPECT, {"name": type_name}, token=account.token)
    parts = []
    for field in data["__type"]["fields"]:
        if field["args"]:
            continue
        kind, name = _named(field["type"])
        if kind == "OBJECT":
            if name in seen:
                continue
            parts.append(f"{field['name']} {{ {await _selection(gql, account, name, seen | {type_name})} }}")
        else:
            parts.append(field["name"])
    return " ".join(parts)


async def _quizzes_with_secrets(
    gql: GraphQLClient, author: Account, subject: Subject
) -> list[dict[str, Any]]:
    explanation = {"explanation": "EXPLANATION-SECRET", "hints": ["A hint is public"]}
    return [
        await create_quiz(gql, author, subject, "MULTIPLE_CHOICE", **explanation),
        await create_quiz(gql, author, subject, "TRUE_FALSE", **explanation),
        await create_quiz(
            gql,
            author,
            subject,
            "SHORT_ANSWER",
            acceptedAnswers=["ZEBRA-ACCEPTED", "YAK-ACCEPTED"],
            **explanation,
        ),
        await create_quiz(
            gql,
            author,
            subject,
            "FILL_BLANK",
            blankAnswers=[["BLANK-ONE-KEY"], ["BLANK-TWO-KEY"]],
            **explanation,
        ),
        await create_quiz(
            gql,
            author,
            subject,
            "MATCHING",
            pairs=[{"left": f"left {n}", "right": f"right {n}"} for n in range(10)],
            **explanation,
        ),
        await create_quiz(gql, author, subject, "ESSAY", rubric="RUBRIC-SECRET", **explanation),
    ]


def _assert_no_key(response: dict[str, Any]) -> None:
    text = json.dumps(response, ensure_ascii=False)
    assert not [secret for secret in SECRETS if secret in text], text
    assert '"correct"' not in text, text


async def test_no_field_a_student_can_reach_shows_an_answer_key(gql) -> None:
    # Given quizzes of every type whose keys hold recognisable text
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    quizzes = await _quizzes_with_secrets(gql, author, subject)
    fields = await _selection(gql, student, "Quiz")
    assert {"choices", "blankCount", "matchLeft", "matchRight", "hints"} <= set(
        fields.replace("{", " ").split()
    )
    # When the student reads them through quiz(id), the list and a practice session
    by_id = [
        await gql.execute(
            f"query($id: ID!) {{ quiz(id: $id) {{ {fields} }} }}", {"id": quiz["id"]}, token=student.token
        )
        for quiz in quizzes
    ]
    listed = await gql.execute(
        f"{{ quizzes(first: 50) {{ edges {{ node {{ {fields} }} }} }} }}", token=student.token
    )
    session = await gql.data(
        "mutation($s: ID!) { startQuizSession(subjectId: $s, kind: PRACTICE, targetQuestions: 6) { id } }",
        {"s": str(subject.id)},
        token=student.token,
    )
    served = await gql.execute(
        f"query($id: ID!) {{ quizSession(id: $id) {{ nextQuiz {{ {fields} }} }} }}",
        {"id": session["startQuizSession"]["id"]},
        token=student.token,
    )
    # Then every response succeeds and none holds key material
    for response in [*by_id, listed, served]:
        assert "errors" not in response, response
        _assert_no_key(response)
    assert len(listed["data"]["quizzes"]["edges"]) == 6


async def test_match_right_is_shuffled_and_stable(gql) -> None:
    # Given a matching quiz whose pairs are listed in key order
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    pairs = [{"left": f"left {n}", "right": f"right {n}"} for n in range(10)]
    quiz = await create_quiz(gql, author, await make_subject(), "MATCHING", pairs=pairs)
    # When a student reads it twice
    query = "query($id: ID!) { quiz(id: $id) { matchLeft matchRight } }"
    first = (await gql.data(query, {"id": quiz["id"]}, token=student.token))["quiz"]
    second = (await gql.data(query, {"id": quiz["id"]}, token=student.token))["quiz"]
    # Then the left side is in order, the right side holds the same texts in another order, the same each time
    rights = [pair["right"] for pair in pairs]
    assert first["matchLeft"] == [pair["left"] for pair in pairs]
    assert sorted(first["matchRight"]) == sorted(rights)
    assert first["matchRight"] != rights
    assert second == first
