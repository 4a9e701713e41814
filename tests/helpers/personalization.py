"""What the personalization tests share: the two queries, subjects with a category and tags, and
students answering TRUE_FALSE quizzes (whose answer is True) right or wrong."""

import uuid
from typing import Any

from core.auth import Role, UserActor
from core.db import transaction
from models.study import Subject
from resolvers import accounts
from resolvers.study import subjects
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account
from tests.helpers.quizzes import create_quiz, submit

PROFILE = """query { personalization { learningStyle styleConfidence evidenceCount
  subjects { subject { id name } level mastery answered topics { topic level mastery answered } } } }"""
RECOMMENDATIONS = """query($limit: Int) { recommendations(limit: $limit) {
  kind reason reasonCode score subject { id name } quiz { id } summary { id } } }"""


async def make_subject(
    name: str, category: str = "History", tags: list[str] | None = None, *, requires_premium: bool = False
) -> Subject:
    draft = subjects.SubjectDraft(
        name=name, category=category, tags=tags or [], requires_premium=requires_premium
    )
    async with transaction() as db:
        return await subjects.create_subject(db, UserActor(uuid.uuid4(), Role.ADMIN), draft)


async def true_false_quiz(
    gql: GraphQLClient,
    author: Account,
    subject: Subject,
    difficulty: str = "MEDIUM",
    topic: str | None = None,
) -> str:
    quiz = await create_quiz(gql, author, subject, "TRUE_FALSE", difficulty=difficulty, topic=topic)
    quiz_id: str = quiz["id"]
    return quiz_id


async def answer(gql: GraphQLClient, student: Account, quiz_id: str, *, right: bool) -> dict[str, Any]:
    return await submit(gql, student, quiz_id, {"boolean": right})


async def profile(gql: GraphQLClient, student: Account) -> dict[str, Any]:
    data: dict[str, Any] = (await gql.data(PROFILE, token=student.token))["personalization"]
    return data


async def recommended(gql: GraphQLClient, student: Account, limit: int | None = None) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await gql.data(RECOMMENDATIONS, {"limit": limit}, token=student.token))[
        "recommendations"
    ]
    return data


async def set_language(student: Account, language: str) -> None:
    async with transaction() as db:
        await accounts.update_profile(
            db, UserActor(student.user.id, student.user.role), accounts.ProfileChanges(language=language)
        )
