"""Answers over HTTP: graded at once (essays PENDING), graded by the author, seen by the right people."""

from typing import Any

import pytest
from sqlalchemy import func, select

from core.auth import Role
from core.db import read_session
from models.quizzes import QuizAttempt, QuizCard
from tests.helpers.client import error_code
from tests.helpers.factories import make_account
from tests.helpers.quizzes import (
    ATTEMPT,
    GRADE,
    QUIZ,
    SUBMIT,
    UPDATE_QUIZ,
    choice_ids,
    create_quiz,
    make_subject,
    quiz_input,
    submit,
)


async def _attempts_and_cards() -> tuple[int, int]:
    async with read_session() as db:
        attempts = (await db.execute(select(func.count()).select_from(QuizAttempt))).scalar_one()
        cards = (await db.execute(select(func.count()).select_from(QuizCard))).scalar_one()
    return int(attempts), int(cards)


async def test_a_multiple_choice_answer_is_graded_with_partial_credit(gql) -> None:
    # Given a quiz with two correct choices out of four
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject())
    # When a student chooses one correct choice and nothing wrong
    result = await submit(gql, student, quiz["id"], {"choiceIds": choice_ids(quiz, "Seoul")})
    # Then they get half the credit, the explanation and the answer key in words
    assert result == {
        "id": result["attemptId"],
        "attemptId": result["attemptId"],
        "correct": False,
        "score": 0.5,
        "pointsEarned": 5,
        "explanation": "Explanation of the MULTIPLE_CHOICE quiz.",
        "correctAnswer": "Seoul; Busan",
        "feedback": None,
        "gradingStatus": "GRADED",
        "timeSpentSeconds": None,
        "quizSession": None,
    }
    assert await _attempts_and_cards() == (1, 1)


@pytest.mark.parametrize(
    ("quiz_type", "answer", "score", "points", "correct_answer"),
    [
        ("TRUE_FALSE", {"boolean": True}, 1.0, 10, "True"),
        ("TRUE_FALSE", {"boolean": False}, 0.0, 0, "True"),
        ("SHORT_ANSWER", {"text": " ＳＥＯＵＬ. "}, 1.0, 10, "서울"),  # noqa: RUF001 (full-width on purpose)
        ("SHORT_ANSWER", {"text": "서울특별시"}, 0.0, 0, "서울"),
        ("FILL_BLANK", {"blanks": ["king sejong", "1443"]}, 1.0, 10, "Sejong; 1443"),
        ("FILL_BLANK", {"blanks": ["세종", "1446"]}, 0.5, 5, "Sejong; 1443"),
        (
            "MATCHING",
            {"pairs": [{"left": "사과", "right": "apple"}, {"left": "포도", "right": "banana"}]},
            1 / 3,
            3,
            "사과 → apple; 바나나 → banana; 포도 → grape",
        ),
    ],
)
async def test_objective_types_are_graded_at_once(
    gql, quiz_type: str, answer: dict[str, Any], score: float, points: int, correct_answer: str
) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), quiz_type)

    result = await submit(gql, student, quiz["id"], answer)

    assert (result["gradingStatus"], result["correct"]) == ("GRADED", score == 1)
    assert (result["score"], result["pointsEarned"], result["correctAnswer"]) == (
        pytest.approx(score),
        points,
        correct_answer,
    )


async def test_an_answer_of_the_wrong_shape_is_bad_input_and_stores_nothing(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), "TRUE_FALSE")

    error = await gql.error(SUBMIT, {"quizId": quiz["id"], "answer": {"text": "true"}}, token=student.token)

    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "answer.text")
    assert await _attempts_and_cards() == (0, 0)


async def test_time_spent_is_measured_from_the_serve(gql) -> None:
    # Given a quiz served to a student through quiz(id)
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), "TRUE_FALSE")
    await gql.data(QUIZ, {"id": quiz["id"]}, token=student.token)
    # When they answer it twice, the second time without a new serve
    first = await submit(gql, student, quiz["id"], {"boolean": True})
    second = await submit(gql, student, quiz["id"], {"boolean": True})
    # Then the first answer has a measured time and the second none (the serve was used up)
    assert isinstance(first["timeSpentSeconds"], int) and first["timeSpentSeconds"] >= 0
    assert second["timeSpentSeconds"] is None


async def test_an_essay_waits_for_its_authors_grade(gql) -> None:
    # Given an essay answered by a student
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), "ESSAY", points=20)
    answered = await submit(gql, student, quiz["id"], {"text": "So that everyone could read."})
    assert (answered["gradingStatus"], answered["correct"], answered["score"], answered["correctAnswer"]) == (
        "PENDING",
        None,
        0.0,
        None,
    )
    # When the author grades it
    data = await gql.data(
        GRADE,
        {"attemptId": answered["attemptId"], "score": 0.75, "feedback": " Good reason. "},
        token=author.token,
    )
    # Then it is GRADED with the points of the quiz and the feedback, and the student sees the same
    graded = data["gradeAttempt"]
    assert (graded["gradingStatus"], graded["score"], graded["pointsEarned"], graded["feedback"]) == (
        "GRADED",
        0.75,
        15,
        "Good reason.",
    )
    seen = (await gql.data(ATTEMPT, {"id": answered["attemptId"]}, token=student.token))["attempt"]
    assert (seen["gradingStatus"], seen["pointsEarned"], seen["correct"]) == ("GRADED", 15, False)
    assert await _attempts_and_cards() == (1, 1)


async def test_grading_twice_is_a_conflict_and_scores_are_bounded(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), "ESSAY")
    answered = await submit(gql, student, quiz["id"], {"text": "An essay."})

    too_high = await gql.error(GRADE, {"attemptId": answered["attemptId"], "score": 1.5}, token=author.token)
    await gql.data(GRADE, {"attemptId": answered["attemptId"], "score": 1}, token=author.token)
    again = await gql.error(GRADE, {"attemptId": answered["attemptId"], "score": 0}, token=author.token)

    assert (error_code(too_high), too_high["extensions"]["field"]) == ("BAD_USER_INPUT", "score")
    assert error_code(again) == "CONFLICT"


@pytest.mark.parametrize(("role", "code"), [(Role.STUDENT, "FORBIDDEN"), (Role.INSTRUCTOR, "NOT_FOUND")])
async def test_students_and_other_instructors_cannot_grade(gql, role: Role, code: str) -> None:
    # Given a pending essay
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), "ESSAY")
    answered = await submit(gql, student, quiz["id"], {"text": "An essay."})
    # When the student who wrote it, or another instructor, tries to grade it
    grader = student if role is Role.STUDENT else await make_account(Role.INSTRUCTOR)
    error = await gql.error(GRADE, {"attemptId": answered["attemptId"], "score": 1}, token=grader.token)
    # Then it is refused and the essay still waits
    assert error_code(error) == code
    seen = (await gql.data(ATTEMPT, {"id": answered["attemptId"]}, token=student.token))["attempt"]
    assert seen["gradingStatus"] == "PENDING"


async def test_nobody_sees_anothers_attempt(gql) -> None:
    # Given a student's attempt
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), "TRUE_FALSE")
    answered = await submit(gql, student, quiz["id"], {"boolean": True})
    # When another student and another instructor ask for it, and the quiz's author does
    other_student = await gql.error(
        ATTEMPT, {"id": answered["attemptId"]}, token=(await make_account()).token
    )
    other_instructor = await gql.error(
        ATTEMPT, {"id": answered["attemptId"]}, token=(await make_account(Role.INSTRUCTOR)).token
    )
    by_author = (await gql.data(ATTEMPT, {"id": answered["attemptId"]}, token=author.token))["attempt"]
    # Then only the author sees it
    assert (error_code(other_student), error_code(other_instructor)) == ("NOT_FOUND", "NOT_FOUND")
    assert (by_author["attemptId"], by_author["score"]) == (answered["attemptId"], 1.0)


async def test_editing_a_quiz_never_changes_an_attempts_grade(gql) -> None:
    # Given a correct answer to a true/false quiz
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    quiz = await create_quiz(gql, author, subject, "TRUE_FALSE", points=10)
    answered = await submit(gql, student, quiz["id"], {"boolean": True})
    # When the author flips the answer, the points and the explanation
    flipped = quiz_input(subject, "TRUE_FALSE", answerBoolean=False, points=50, explanation="Now false.")
    await gql.data(UPDATE_QUIZ, {"id": quiz["id"], "input": flipped}, token=author.token)
    # Then the old attempt keeps its grade and explanation, and a new answer is graded by the new key
    seen = (await gql.data(ATTEMPT, {"id": answered["attemptId"]}, token=student.token))["attempt"]
    assert (seen["correct"], seen["pointsEarned"], seen["correctAnswer"], seen["explanation"]) == (
        True,
        10,
        "True",
        "Explanation of the TRUE_FALSE quiz.",
    )
    again = await submit(gql, student, quiz["id"], {"boolean": True})
    assert (again["correct"], again["pointsEarned"], again["correctAnswer"]) == (False, 0, "False")


async def test_an_archived_quiz_cannot_be_answered(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    quiz = await create_quiz(gql, author, await make_subject(), "TRUE_FALSE")
    await gql.data(
        "mutation($id: ID!) { archiveQuiz(id: $id) { id } }", {"id": quiz["id"]}, token=author.token
    )

    error = await gql.error(SUBMIT, {"quizId": quiz["id"], "answer": {"boolean": True}}, token=student.token)

    assert error_code(error) == "NOT_FOUND"
    assert await _attempts_and_cards() == (0, 0)


async def test_answers_need_a_signed_in_user(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    quiz = await create_quiz(gql, author, await make_subject(), "TRUE_FALSE")

    error = await gql.error(SUBMIT, {"quizId": quiz["id"], "answer": {"boolean": True}})

    assert error_code(error) == "UNAUTHENTICATED"
