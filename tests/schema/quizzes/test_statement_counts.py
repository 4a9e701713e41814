"""Statement counts: the quiz list with subjects costs the same for one quiz as for many, and an answer a
fixed, small number of statements."""

from core.auth import Role
from tests.helpers.db import count_queries
from tests.helpers.factories import make_account
from tests.helpers.quizzes import QUIZZES, create_quiz, make_subject, submit


async def test_the_quiz_list_with_subjects_costs_the_same_for_one_or_twelve(gql) -> None:
    # Given one quiz
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subjects = [await make_subject(f"Subject {n}") for n in range(3)]
    await create_quiz(gql, author, subjects[0])
    with count_queries() as few:
        one = await gql.data(QUIZZES, {"first": 50}, token=student.token)
    # When there are twelve, over three subjects
    for n in range(11):
        await create_quiz(gql, author, subjects[n % 3], "MATCHING")
    with count_queries() as many:
        twelve = await gql.data(QUIZZES, {"first": 50}, token=student.token)
    # Then both lists, subjects included, cost the same statements: the page and one subject batch
    assert len(one["quizzes"]["edges"]) == 1
    assert len(twelve["quizzes"]["edges"]) == 12
    assert {edge["node"]["subject"]["name"] for edge in twelve["quizzes"]["edges"]} == {
        "Subject 0",
        "Subject 1",
        "Subject 2",
    }
    assert len(many) == len(few) == 2


async def test_filters_narrow_the_list(gql) -> None:
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject, other = await make_subject(), await make_subject("Chemistry")
    wanted = await create_quiz(gql, author, subject, "TRUE_FALSE", difficulty="HARD")
    await create_quiz(gql, author, subject, "TRUE_FALSE", difficulty="EASY")
    await create_quiz(gql, author, subject, "SHORT_ANSWER", difficulty="HARD")
    await create_quiz(gql, author, other, "TRUE_FALSE", difficulty="HARD")

    data = await gql.data(
        QUIZZES,
        {"subjectId": str(subject.id), "difficulty": "HARD", "type": "TRUE_FALSE"},
        token=student.token,
    )

    assert [edge["node"]["id"] for edge in data["quizzes"]["edges"]] == [wanted["id"]]


async def test_an_objective_answer_costs_a_fixed_number_of_statements(gql) -> None:
    # Given a quiz served to a student
    author = await make_account(Role.INSTRUCTOR)
    student = await make_account()
    subject = await make_subject()
    quiz = await create_quiz(gql, author, subject, "TRUE_FALSE")
    # When they answer it, a first time and a second time (when their FSRS card exists)
    with count_queries() as first:
        await submit(gql, student, quiz["id"], {"boolean": True})
    with count_queries() as second:
        await submit(gql, student, quiz["id"], {"boolean": False})
    # Then each reads the quiz with its serve (taken) and the card, stores the attempt and the card, and
    # counts the answer in study progress (the user's progress lock, the activity, the goals it completes)
    # and in the student's ability estimates (their read and their upsert)
    assert len(first) == len(second) == 8, first
    # And the answers show in the student's progress
    progress = "query($id: ID!) { studyProgress(subjectId: $id) { quizzesAnswered correctRate } }"
    data = await gql.data(progress, {"id": str(subject.id)}, token=student.token)
    assert data["studyProgress"] == {"quizzesAnswered": 2, "correctRate": 0.5}
