"""Authoring: instructors and admins write quizzes, each type's shape is checked, authors edit and archive."""

from typing import Any

import pytest
from sqlalchemy import func, select

from core.auth import Role
from core.db import read_session
from models.quizzes import Quiz, QuizVersion
from tests.helpers.client import error_code
from tests.helpers.factories import make_account
from tests.helpers.quizzes import (
    ARCHIVE_QUIZ,
    CREATE_QUIZ,
    QUIZ,
    UPDATE_QUIZ,
    create_quiz,
    make_subject,
    quiz_input,
)


async def _stored_counts() -> tuple[int, int]:
    async with read_session() as db:
        quizzes = (await db.execute(select(func.count()).select_from(Quiz))).scalar_one()
        versions = (await db.execute(select(func.count()).select_from(QuizVersion))).scalar_one()
    return int(quizzes), int(versions)


async def test_an_instructor_creates_a_multiple_choice_quiz_with_defaults(gql) -> None:
    # Given an instructor and a subject
    instructor = await make_account(Role.INSTRUCTOR)
    subject = await make_subject()
    # When they create a multiple-choice quiz with padded text
    quiz = await create_quiz(
        gql, instructor, subject, topic="  Korean   cities ", hints=[" Think of the capital "]
    )
    # Then it is stored cleaned, with the default points and time, and no answer key in sight
    assert quiz == {
        "id": quiz["id"],
        "type": "MULTIPLE_CHOICE",
        "difficulty": "MEDIUM",
        "topic": "Korean cities",
        "question": "Which cities are in Korea?",
        "choices": [
            {"id": quiz["choices"][0]["id"], "text": "Seoul"},
            {"id": quiz["choices"][1]["id"], "text": "Tokyo"},
            {"id": quiz["choices"][2]["id"], "text": "Busan"},
            {"id": quiz["choices"][3]["id"], "text": "Osaka"},
        ],
        "blankCount": None,
        "matchLeft": None,
        "matchRight": None,
        "hints": ["Think of the capital"],
        "points": 10,
        "estimatedSeconds": 30,
        "archived": False,
        "subject": {"id": str(subject.id), "name": "Korean history"},
    }
    assert len({choice["id"] for choice in quiz["choices"]}) == 4
    assert await _stored_counts() == (1, 1)


@pytest.mark.parametrize(
    ("quiz_type", "seconds", "shape"),
    [
        ("TRUE_FALSE", 15, {"choices": None, "blankCount": None, "matchLeft": None}),
        ("SHORT_ANSWER", 45, {"choices": None, "blankCount": None, "matchLeft": None}),
        ("FILL_BLANK", 60, {"choices": None, "blankCount": 2, "matchLeft": None}),
        ("MATCHING", 90, {"choices": None, "blankCount": None, "matchLeft": ["사과", "바나나", "포도"]}),
        ("ESSAY", 600, {"choices": None, "blankCount": None, "matchLeft": None}),
    ],
)
async def test_every_type_is_created_with_its_default_time(
    gql, quiz_type: str, seconds: int, shape: dict[str, Any]
) -> None:
    admin = await make_account(Role.ADMIN)
    subject = await make_subject()

    quiz = await create_quiz(gql, admin, subject, quiz_type)

    assert quiz["estimatedSeconds"] == seconds
    assert {field: quiz[field] for field in shape} == shape


async def test_points_and_time_can_be_set(gql) -> None:
    instructor = await make_account(Role.INSTRUCTOR)
    subject = await make_subject()

    quiz = await create_quiz(gql, instructor, subject, "TRUE_FALSE", points=25, estimatedSeconds=20)

    assert (quiz["points"], quiz["estimatedSeconds"]) == (25, 20)


async def test_students_cannot_author(gql) -> None:
    # Given a student
    student = await make_account()
    subject = await make_subject()
    # When they try to create a quiz
    error = await gql.error(CREATE_QUIZ, {"input": quiz_input(subject)}, token=student.token)
    # Then it is refused and nothing is stored
    assert error_code(error) == "FORBIDDEN"
    assert await _stored_counts() == (0, 0)


def _choices(*correct: bool) -> list[dict[str, Any]]:
    return [{"text": f"Choice {n}", "correct": flag} for n, flag in enumerate(correct)]


@pytest.mark.parametrize(
    ("quiz_type", "fields", "field"),
    [
        ("MULTIPLE_CHOICE", {"choices": _choices(True)}, "choices"),
        ("MULTIPLE_CHOICE", {"choices": _choices(True, *[False] * 8)}, "choices"),
        ("MULTIPLE_CHOICE", {"choices": _choices(False, False)}, "choices"),
        ("MULTIPLE_CHOICE", {"choices": None}, "choices"),
        (
            "MULTIPLE_CHOICE",
            {"choices": [{"text": "Same", "correct": True}, {"text": " same ", "correct": False}]},
            "choices",
        ),
        ("MULTIPLE_CHOICE", {"answerBoolean": True}, "answerBoolean"),
        ("TRUE_FALSE", {"answerBoolean": None}, "answerBoolean"),
        ("TRUE_FALSE", {"acceptedAnswers": ["yes"]}, "acceptedAnswers"),
        ("SHORT_ANSWER", {"acceptedAnswers": []}, "acceptedAnswers"),
        ("SHORT_ANSWER", {"acceptedAnswers": [f"a{n}" for n in range(21)]}, "acceptedAnswers"),
        ("SHORT_ANSWER", {"acceptedAnswers": ["?!"]}, "acceptedAnswers"),
        ("SHORT_ANSWER", {"acceptedAnswers": ["  "]}, "acceptedAnswers"),
        ("SHORT_ANSWER", {"rubric": "a rubric"}, "rubric"),
        ("FILL_BLANK", {"blankAnswers": [["Sejong"]]}, "blankAnswers"),
        ("FILL_BLANK", {"blankAnswers": [["Sejong"], ["1443"], ["x"]]}, "blankAnswers"),
        ("FILL_BLANK", {"blankAnswers": [["Sejong"], []]}, "blankAnswers"),
        ("FILL_BLANK", {"question": "No blanks here.", "blankAnswers": [["x"]]}, "question"),
        ("MATCHING", {"pairs": [{"left": "a", "right": "b"}]}, "pairs"),
        ("MATCHING", {"pairs": [{"left": f"l{n}", "right": f"r{n}"} for n in range(11)]}, "pairs"),
        ("MATCHING", {"pairs": [{"left": "a", "right": "x"}, {"left": "A", "right": "y"}]}, "pairs"),
        ("MATCHING", {"pairs": [{"left": "a", "right": "x"}, {"left": "b", "right": "X."}]}, "pairs"),
        ("MATCHING", {"choices": _choices(True, False)}, "choices"),
        ("ESSAY", {"rubric": "   "}, "rubric"),
        ("ESSAY", {"rubric": None}, "rubric"),
        ("ESSAY", {"answerBoolean": False}, "answerBoolean"),
        ("TRUE_FALSE", {"question": "   "}, "question"),
        ("TRUE_FALSE", {"question": "Bad\u0000text"}, "question"),
        ("TRUE_FALSE", {"points": 0}, "points"),
        ("TRUE_FALSE", {"estimatedSeconds": 1}, "estimatedSeconds"),
        ("TRUE_FALSE", {"hints": [f"hint {n}" for n in range(6)]}, "hints"),
        ("TRUE_FALSE", {"topic": "t" * 101}, "topic"),
    ],
)
async def test_a_quiz_of_the_wrong_shape_is_bad_input_naming_the_field(
    gql, quiz_type: str, fields: dict[str, Any], field: str
) -> None:
    # Given an instructor and a subject
    instructor = await make_account(Role.INSTRUCTOR)
    subject = await make_subject()
    # When they send a quiz whose shape does not fit its type
    error = await gql.error(
        CREATE_QUIZ, {"input": quiz_input(subject, quiz_type, **fields)}, token=instructor.token
    )
    # Then it is BAD_USER_INPUT naming the field, and nothing is stored
    assert (error_code(error), error["extensions"].get("field")) == ("BAD_USER_INPUT", field)
    assert await _stored_counts() == (0, 0)


async def test_a_quiz_of_an_unknown_subject_is_not_found(gql) -> None:
    instructor = await make_account(Role.INSTRUCTOR)
    subject = await make_subject()
    values = quiz_input(subject) | {"subjectId": "00000000-0000-4000-8000-000000000000"}

    error = await gql.error(CREATE_QUIZ, {"input": values}, token=instructor.token)

    assert error_code(error) == "NOT_FOUND"
    assert await _stored_counts() == (0, 0)


async def test_the_author_updates_a_quiz_as_a_new_version_keeping_choice_ids(gql) -> None:
    # Given an instructor's multiple-choice quiz
    instructor = await make_account(Role.INSTRUCTOR)
    subject = await make_subject()
    quiz = await create_quiz(gql, instructor, subject)
    ids = {choice["text"]: choice["id"] for choice in quiz["choices"]}
    # When they change one choice and the question
    values = quiz_input(
        subject,
        question="Which are Korean cities?",
        choices=[
            {"text": "Seoul", "correct": True},
            {"text": "Kyoto", "correct": False},
            {"text": "Busan", "correct": True},
        ],
    )
    data = await gql.data(UPDATE_QUIZ, {"id": quiz["id"], "input": values}, token=instructor.token)
    # Then unchanged choices keep their ids and a second version is stored
    updated = data["updateQuiz"]
    assert updated["question"] == "Which are Korean cities?"
    new_ids = {choice["text"]: choice["id"] for choice in updated["choices"]}
    assert (new_ids["Seoul"], new_ids["Busan"]) == (ids["Seoul"], ids["Busan"])
    assert new_ids["Kyoto"] not in ids.values()
    assert await _stored_counts() == (1, 2)


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR])
async def test_only_the_author_or_an_admin_updates_or_archives(gql, role: Role) -> None:
    # Given an instructor's quiz and another user
    author = await make_account(Role.INSTRUCTOR)
    other = await make_account(role)
    subject = await make_subject()
    quiz = await create_quiz(gql, author, subject)
    # When the other user tries to edit or archive it
    update = await gql.error(UPDATE_QUIZ, {"id": quiz["id"], "input": quiz_input(subject)}, token=other.token)
    archive = await gql.error(ARCHIVE_QUIZ, {"id": quiz["id"]}, token=other.token)
    # Then both are forbidden and nothing changed
    assert (error_code(update), error_code(archive)) == ("FORBIDDEN", "FORBIDDEN")
    assert await _stored_counts() == (1, 1)
    assert (await gql.data(QUIZ, {"id": quiz["id"]}, token=author.token))["quiz"]["archived"] is False


async def test_an_admin_edits_anyones_quiz(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    admin = await make_account(Role.ADMIN)
    subject = await make_subject()
    quiz = await create_quiz(gql, author, subject, "TRUE_FALSE")

    data = await gql.data(
        UPDATE_QUIZ,
        {"id": quiz["id"], "input": quiz_input(subject, "TRUE_FALSE", points=30)},
        token=admin.token,
    )

    assert data["updateQuiz"]["points"] == 30


async def test_an_archived_quiz_is_hidden_from_students_and_frozen(gql) -> None:
    # Given an archived quiz
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    quiz = await create_quiz(gql, author, subject)
    archived = (await gql.data(ARCHIVE_QUIZ, {"id": quiz["id"]}, token=author.token))["archiveQuiz"]
    # Then archiving again changes nothing, students cannot see it, and it cannot be edited
    again = (await gql.data(ARCHIVE_QUIZ, {"id": quiz["id"]}, token=author.token))["archiveQuiz"]
    hidden = await gql.error(QUIZ, {"id": quiz["id"]}, token=student.token)
    frozen = await gql.error(
        UPDATE_QUIZ, {"id": quiz["id"], "input": quiz_input(subject)}, token=author.token
    )
    assert (archived["archived"], again["archived"]) == (True, True)
    assert error_code(hidden) == "NOT_FOUND"
    assert error_code(frozen) == "CONFLICT"
