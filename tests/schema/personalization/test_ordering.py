"""The order of recommendations: due reviews first (most overdue first), then new quizzes, then unread
summaries, then related subjects, by a score that falls along the list."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.auth import Role
from core.db import read_session
from models.base import utcnow
from resolvers.personalization.recommendations import RecommendationKind, recommendations
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import make_account
from tests.helpers.fake_ai_server import FakeAiServer, fake_ai_server, grant, point_providers_at
from tests.helpers.personalization import answer, make_subject, true_false_quiz
from tests.helpers.study import actor, summary_answer, written_summary


@pytest.fixture
async def fake_ai(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeAiServer]:
    async with fake_ai_server(summary_answer) as fake:
        point_providers_at(monkeypatch, fake)
        grant(monkeypatch, "openai")
        yield fake


async def test_due_reviews_come_first_then_new_quizzes_summaries_and_subjects(
    gql: GraphQLClient, fake_ai: FakeAiServer
) -> None:
    # Given a student who answered two quizzes (one wrong, one right), with one quiz left unanswered,
    # an unread summary and a related subject
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    related = await make_subject("World history")
    missed, known, fresh = [await true_false_quiz(gql, author, subject) for _ in range(3)]
    await answer(gql, student, missed, right=False)
    await answer(gql, student, known, right=True)
    summary = await written_summary(gql, student, subject.id, "Joseon")
    # When they ask a month later, when both FSRS cards are due
    async with read_session() as db:
        found = await recommendations(db, actor(student), 50, now=utcnow() + timedelta(days=30))
    # Then the reviews come first, the one due longest (the wrong answer) first, and the scores fall
    assert [(r.kind, r.quiz_id or r.summary_id or r.subject_id) for r in found] == [
        (RecommendationKind.REVIEW_QUIZ, _id(missed)),
        (RecommendationKind.REVIEW_QUIZ, _id(known)),
        (RecommendationKind.NEW_QUIZ, _id(fresh)),
        (RecommendationKind.READ_SUMMARY, _id(summary["id"])),
        (RecommendationKind.NEW_SUBJECT, related.id),
    ]
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
    assert [r.reason_code for r in found] == [
        "FSRS_DUE",
        "FSRS_DUE",
        "WEAK_TOPIC_AT_LEVEL",
        "UNREAD_SUMMARY",
        "RELATED_SUBJECT",
    ]


async def test_nothing_is_due_right_after_a_right_answer(gql: GraphQLClient) -> None:
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    await answer(gql, student, await true_false_quiz(gql, author, subject), right=True)

    async with read_session() as db:
        found = await recommendations(db, actor(student), None)

    assert found == []


def _id(value: str) -> uuid.UUID:
    return uuid.UUID(value)
