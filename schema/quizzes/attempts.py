"""Answering quizzes, grading essays by hand, and reading one attempt."""

from collections.abc import AsyncGenerator

import strawberry

from core.db import read_session, transaction
from resolvers.quizzes import attempts, essays
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.quizzes.types import AnswerInput, AttemptResult


@strawberry.type
class AttemptsQuery:
    @fields.field("For the student who answered and the quiz's author.")
    async def attempt(self, info: Info, id: strawberry.ID) -> AttemptResult | None:
        async with read_session() as db:
            view = await attempts.get_attempt(db, info.context.actor, parse_id(id, "Attempt"))
        return AttemptResult.of(view)


@strawberry.type
class AttemptsMutation:
    @fields.mutation(
        "Grades objective types at once (GRADED). An essay waits (PENDING) for the AI grader, which "
        "spends one ESSAY_GRADING credit and pushes the grade on `attemptGraded`; without AI, a credit or "
        "a valid AI grade it goes to the quiz's author (NEEDS_REVIEW). Give only the answer field of the "
        "quiz's type (else BAD_USER_INPUT). The time is measured from when the quiz was served."
    )
    async def submit_answer(
        self,
        info: Info,
        quiz_id: strawberry.ID,
        answer: AnswerInput,
        quiz_session_id: strawberry.ID | None = None,
    ) -> AttemptResult:
        async with transaction() as db:
            view = await attempts.submit_answer(
                db,
                info.context.actor,
                parse_id(quiz_id, "Quiz"),
                answer.answer(),
                None if quiz_session_id is None else parse_id(quiz_session_id, "QuizSession"),
            )
        return AttemptResult.of(view)

    @fields.mutation("The quiz's author or an ADMIN grades an answer waiting for it; score 0 to 1.")
    async def grade_attempt(
        self, info: Info, attempt_id: strawberry.ID, score: float, feedback: str | None = None
    ) -> AttemptResult:
        async with transaction() as db:
            view = await attempts.grade_attempt(
                db, info.context.actor, parse_id(attempt_id, "Attempt"), score, feedback
            )
        return AttemptResult.of(view)


async def _attempt_graded(info: Info) -> AsyncGenerator[AttemptResult, None]:
    async for event in essays.graded_attempt_events(info.context.actor):
        yield AttemptResult.of_event(event)


@strawberry.type
class AttemptsSubscription:
    attempt_graded: AsyncGenerator[AttemptResult, None] = strawberry.subscription(
        resolver=_attempt_graded,
        description="The signed-in user's essays as the AI grades them.",
    )
