"""Quiz sessions over HTTP: practice serves unanswered quizzes, adaptive moves by the last five answers,
sessions complete after their target, and each belongs to its user alone."""

from typing import Any

import pytest

from core.auth import Role
from models.study import Subject
from tests.helpers.client import GraphQLClient, error_code
from tests.helpers.factories import Account, make_account
from tests.helpers.quizzes import (
    ARCHIVE_QUIZ,
    NEXT_QUIZ,
    START_SESSION,
    SUBMIT,
    create_quiz,
    make_subject,
    submit,
)

SESSION = "query($id: ID!) { quizSession(id: $id) { id status currentDifficulty answered correct } }"
SETTINGS = """mutation($s: ID!, $d: Difficulty!) {
  updateStudySettings(subjectId: $s, input: { difficulty: $d }) { difficulty } }"""


async def _start(
    gql: GraphQLClient, student: Account, subject: Subject, kind: str, target: int = 10
) -> dict[str, Any]:
    data = await gql.data(
        START_SESSION, {"subjectId": str(subject.id), "kind": kind, "target": target}, token=student.token
    )
    session: dict[str, Any] = data["startQuizSession"]
    return session


async def _next(gql: GraphQLClient, student: Account, session_id: str) -> dict[str, Any] | None:
    data = await gql.data(NEXT_QUIZ, {"id": session_id}, token=student.token)
    quiz: dict[str, Any] | None = data["quizSession"]["nextQuiz"]
    return quiz


async def _true_false_quizzes(
    gql: GraphQLClient, author: Account, subject: Subject, difficulty: str, count: int
) -> list[str]:
    return [
        (
            await create_quiz(
                gql, author, subject, "TRUE_FALSE", difficulty=difficulty, topic=f"{difficulty} {n}"
            )
        )["id"]
        for n in range(count)
    ]


async def _answer_next(gql: GraphQLClient, student: Account, session_id: str, right: bool) -> dict[str, Any]:
    """Answers what the session serves (every quiz here is TRUE_FALSE with the answer True)."""
    quiz = await _next(gql, student, session_id)
    assert quiz is not None
    return await submit(gql, student, quiz["id"], {"boolean": right}, session_id)


async def test_practice_serves_unanswered_quizzes_and_completes_after_its_target(gql) -> None:
    # Given three quizzes, one of them answered before, and a practice session of two questions
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    first, second, third = await _true_false_quizzes(gql, author, subject, "MEDIUM", 3)
    await submit(gql, student, first, {"boolean": True})
    session = await _start(gql, student, subject, "PRACTICE", target=2)
    assert (session["kind"], session["status"], session["answered"], session["targetQuestions"]) == (
        "PRACTICE",
        "ACTIVE",
        0,
        2,
    )
    # When the student answers what it serves, twice
    served = await _next(gql, student, session["id"])
    assert served is not None and served["id"] == second
    assert (await _next(gql, student, session["id"]))["id"] == second
    one = await submit(gql, student, second, {"boolean": True}, session["id"])
    assert (await _next(gql, student, session["id"]))["id"] == third
    two = await submit(gql, student, third, {"boolean": False}, session["id"])
    # Then the session counts both, completes, and serves nothing more
    assert isinstance(one["timeSpentSeconds"], int)  # measured from the serve by nextQuiz
    assert one["quizSession"] == {
        "id": session["id"],
        "answered": 1,
        "correct": 1,
        "status": "ACTIVE",
        "currentDifficulty": "MEDIUM",
    }
    assert (two["quizSession"]["answered"], two["quizSession"]["correct"], two["quizSession"]["status"]) == (
        2,
        1,
        "COMPLETED",
    )
    assert await _next(gql, student, session["id"]) is None
    # And a completed session takes no more answers
    error = await gql.error(
        SUBMIT,
        {"quizId": first, "answer": {"boolean": True}, "sessionId": session["id"]},
        token=student.token,
    )
    assert error_code(error) == "CONFLICT"


async def test_archived_quizzes_are_not_served(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    [quiz] = await _true_false_quizzes(gql, author, subject, "MEDIUM", 1)
    await gql.data(ARCHIVE_QUIZ, {"id": quiz}, token=author.token)

    session = await _start(gql, student, subject, "PRACTICE")

    assert await _next(gql, student, session["id"]) is None


async def test_adaptive_starts_at_the_study_settings_difficulty(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    await _true_false_quizzes(gql, author, subject, "MEDIUM", 2)
    [hard] = await _true_false_quizzes(gql, author, subject, "HARD", 1)
    await gql.data(SETTINGS, {"s": str(subject.id), "d": "HARD"}, token=student.token)

    session = await _start(gql, student, subject, "ADAPTIVE")

    assert session["currentDifficulty"] == "HARD"
    assert (await _next(gql, student, session["id"]))["id"] == hard


async def test_adaptive_moves_up_after_five_answers_at_90_percent(gql) -> None:
    # Given medium and hard quizzes and an adaptive session starting at MEDIUM
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    await _true_false_quizzes(gql, author, subject, "MEDIUM", 6)
    hard = await _true_false_quizzes(gql, author, subject, "HARD", 2)
    session = await _start(gql, student, subject, "ADAPTIVE", target=20)
    # When four right answers are given, it stays; after the fifth it moves up and serves hard quizzes
    for _ in range(4):
        result = await _answer_next(gql, student, session["id"], right=True)
        assert result["quizSession"]["currentDifficulty"] == "MEDIUM"
    result = await _answer_next(gql, student, session["id"], right=True)
    assert result["quizSession"]["currentDifficulty"] == "HARD"
    served = await _next(gql, student, session["id"])
    assert served is not None and served["id"] in hard


@pytest.mark.parametrize(
    ("right_answers", "difficulty"), [(4, "MEDIUM"), (3, "MEDIUM"), (2, "EASY"), (0, "EASY")]
)
async def test_adaptive_moves_down_below_60_percent(gql, right_answers: int, difficulty: str) -> None:
    # Given an adaptive session at MEDIUM with enough quizzes at every level
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    await _true_false_quizzes(gql, author, subject, "MEDIUM", 5)
    await _true_false_quizzes(gql, author, subject, "EASY", 1)
    session = await _start(gql, student, subject, "ADAPTIVE")
    # When five answers are given, `right_answers` of them right
    for n in range(5):
        result = await _answer_next(gql, student, session["id"], right=n < right_answers)
    # Then 80 % and 60 % stay at MEDIUM, 40 % and 0 % move down to EASY
    assert result["quizSession"]["currentDifficulty"] == difficulty


async def test_a_session_is_its_owners_alone(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    other = await make_account()
    subject = await make_subject()
    [quiz] = await _true_false_quizzes(gql, author, subject, "MEDIUM", 1)
    session = await _start(gql, student, subject, "PRACTICE")

    read = await gql.error(SESSION, {"id": session["id"]}, token=other.token)
    answer = await gql.error(
        SUBMIT, {"quizId": quiz, "answer": {"boolean": True}, "sessionId": session["id"]}, token=other.token
    )

    assert (error_code(read), error_code(answer)) == ("NOT_FOUND", "NOT_FOUND")
    assert (await gql.data(SESSION, {"id": session["id"]}, token=student.token))["quizSession"][
        "answered"
    ] == 0


async def test_a_session_takes_answers_to_its_own_subjects_quizzes_only(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    other_subject = await make_subject("Chemistry")
    [elsewhere] = await _true_false_quizzes(gql, author, other_subject, "MEDIUM", 1)
    session = await _start(gql, student, subject, "PRACTICE")

    error = await gql.error(
        SUBMIT,
        {"quizId": elsewhere, "answer": {"boolean": True}, "sessionId": session["id"]},
        token=student.token,
    )

    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "quizSessionId")


@pytest.mark.parametrize("target", [0, 51])
async def test_target_questions_are_1_to_50(gql, target: int) -> None:
    student = await make_account()
    subject = await make_subject()

    error = await gql.error(
        START_SESSION,
        {"subjectId": str(subject.id), "kind": "PRACTICE", "target": target},
        token=student.token,
    )

    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "targetQuestions")
