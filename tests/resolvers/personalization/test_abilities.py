"""A graded answer updates the student's subject and topic beliefs inside the answer's own transaction:
both rows with it, neither without it."""

import uuid

import pytest
from sqlalchemy import select
from sqlmodel import col

from core.auth import Role
from core.db import read_session, transaction
from models.personalization import WHOLE_SUBJECT, LearnerAbility
from models.quizzes import Answer
from resolvers.quizzes.attempts import submit_answer
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import make_account
from tests.helpers.personalization import make_subject, true_false_quiz
from tests.helpers.study import actor


async def _beliefs(user_id: uuid.UUID) -> dict[str, int]:
    async with read_session() as db:
        rows = await db.execute(select(LearnerAbility).where(col(LearnerAbility.user_id) == user_id))
        return {row.topic: row.answered for row in rows.scalars()}


async def test_an_answer_writes_the_subject_and_topic_beliefs(gql: GraphQLClient) -> None:
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    quiz_id = uuid.UUID(await true_false_quiz(gql, author, subject, topic="Joseon"))

    async with transaction() as db:
        await submit_answer(db, actor(student), quiz_id, Answer(boolean=True), None)

    assert await _beliefs(student.user.id) == {WHOLE_SUBJECT: 1, "Joseon": 1}


async def test_an_answer_rolled_back_leaves_no_belief(gql: GraphQLClient) -> None:
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    quiz_id = uuid.UUID(await true_false_quiz(gql, author, subject, topic="Joseon"))

    with pytest.raises(RuntimeError, match="after the answer"):
        async with transaction() as db:
            await submit_answer(db, actor(student), quiz_id, Answer(boolean=True), None)
            raise RuntimeError("something failed after the answer")

    assert await _beliefs(student.user.id) == {}
