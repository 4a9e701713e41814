"""`recommendations`: never an answered or archived quiz as new, nothing premium without a paid plan,
related subjects by category and tags, reasons in the user's language, a bounded limit, and a fixed
number of statements however many recommendations."""

import pytest

from core.auth import Role
from models.study import Difficulty
from resolvers.personalization import model
from tests.helpers.client import GraphQLClient, error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import make_account
from tests.helpers.personalization import (
    RECOMMENDATIONS,
    answer,
    make_subject,
    recommended,
    set_language,
    true_false_quiz,
)
from tests.helpers.quizzes import ARCHIVE_QUIZ
from tests.helpers.study import subscribe_to_premium


async def test_new_quizzes_leave_out_answered_archived_and_premium_ones(gql: GraphQLClient) -> None:
    # Given a student who answered one quiz of a subject and one of a premium subject
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    history = await make_subject("Korean history")
    premium = await make_subject("Advanced history", requires_premium=True)
    answered, fresh, archived = [await true_false_quiz(gql, author, history) for _ in range(3)]
    await gql.data(ARCHIVE_QUIZ, {"id": archived}, token=author.token)
    premium_answered = await true_false_quiz(gql, author, premium)
    premium_fresh = await true_false_quiz(gql, author, premium)
    await answer(gql, student, answered, right=True)
    await answer(gql, student, premium_answered, right=False)
    # When they ask for recommendations, without a paid plan and then with one
    free = await recommended(gql, student, 50)
    await subscribe_to_premium(student)
    paid = await recommended(gql, student, 50)
    # Then the only new quiz is the unanswered live one of the free subject, until they pay
    assert [(r["kind"], r["quiz"]["id"]) for r in free if r["kind"] == "NEW_QUIZ"] == [("NEW_QUIZ", fresh)]
    assert all(r["subject"]["id"] != str(premium.id) for r in free)
    assert {r["quiz"]["id"] for r in paid if r["kind"] == "NEW_QUIZ"} == {fresh, premium_fresh}
    assert all(r["reasonCode"] == "WEAK_TOPIC_AT_LEVEL" for r in paid if r["kind"] == "NEW_QUIZ")


async def test_related_subjects_share_a_category_or_tags_and_premium_ones_need_a_plan(
    gql: GraphQLClient,
) -> None:
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    studied = await make_subject("Korean history", "History", ["korea", "joseon"])
    same_category = await make_subject("World history", "History")
    shared_tags = await make_subject("Korean language", "Language", ["korea", "joseon"])
    await make_subject("Chemistry", "Science", ["lab"])
    await make_subject("Joseon art", "History", ["joseon"], requires_premium=True)
    await answer(gql, student, await true_false_quiz(gql, author, studied), right=True)

    subjects = [r for r in await recommended(gql, student, 50) if r["kind"] == "NEW_SUBJECT"]

    # Two shared tags relate more than a shared category; unrelated and premium subjects are left out
    assert [r["subject"]["id"] for r in subjects] == [str(shared_tags.id), str(same_category.id)]
    assert [r["score"] for r in subjects] == sorted((r["score"] for r in subjects), reverse=True)
    assert {r["reasonCode"] for r in subjects} == {"RELATED_SUBJECT"}
    assert all(r["quiz"] is None and r["summary"] is None for r in subjects)


async def test_reasons_are_in_the_users_language(gql: GraphQLClient) -> None:
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    await true_false_quiz(gql, author, subject, topic="Joseon")
    await answer(gql, student, await true_false_quiz(gql, author, subject), right=True)

    (korean,) = await recommended(gql, student)
    await set_language(student, "en")
    (english,) = await recommended(gql, student)

    # The topic is new: its estimate starts from the subject's (one right answer), with the prior's doubt
    topic = model.topic_prior(model.update(model.Belief(), Difficulty.MEDIUM, 1.0))
    percent = round(100 * model.mastery(topic))
    assert korean["reason"] == f"'Joseon' 숙련도 {percent}%: 지금 수준에 맞는 보통 문제예요."
    assert english["reason"] == f"Your mastery of 'Joseon' is {percent}%: a medium question at your level."


@pytest.mark.parametrize("limit", [0, 51, -1])
async def test_a_limit_outside_1_to_50_is_bad_input(gql: GraphQLClient, limit: int) -> None:
    student = await make_account()

    error = await gql.error(RECOMMENDATIONS, {"limit": limit}, token=student.token)

    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "limit")


async def test_recommendations_cost_the_same_statements_for_one_or_many(gql: GraphQLClient) -> None:
    # Given a student with one recommendation
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subjects = [await make_subject(f"History {n}", "History", [f"tag{n}"]) for n in range(3)]
    await answer(gql, student, await true_false_quiz(gql, author, subjects[0]), right=True)
    await true_false_quiz(gql, author, subjects[0])
    await set_language(student, "ko")
    for n in range(1, 3):
        await make_subject(f"Unrelated {n}", "Science")
    with count_queries() as few:
        one = await recommended(gql, student, 1)
    # When there are many, of every kind but summaries, over several subjects
    for n in range(12):
        await true_false_quiz(gql, author, subjects[0], topic=f"Topic {n}")
    with count_queries() as many:
        lots = await recommended(gql, student, 50)
    # Then both cost the same: user, paid plan, beliefs, candidates; one batch of subjects, one of quizzes
    assert len(one) == 1 and len(lots) == 15
    assert {r["kind"] for r in lots} == {"NEW_QUIZ", "NEW_SUBJECT"}
    assert len(few) == len(many) == 6, many
