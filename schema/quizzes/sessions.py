"""Quiz sessions: PRACTICE, ADAPTIVE and REVIEW."""

import strawberry

from core.db import read_session, transaction
from resolvers.quizzes import sessions
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.quizzes.types import QuizSession, QuizSessionKind


@strawberry.type
class SessionsQuery:
    @fields.field("The signed-in user's own session.")
    async def quiz_session(self, info: Info, id: strawberry.ID) -> QuizSession | None:
        async with read_session() as db:
            row = await sessions.get_quiz_session(db, info.context.actor, parse_id(id, "QuizSession"))
        return QuizSession.from_row(row)


@strawberry.type
class SessionsMutation:
    @fields.mutation(
        "targetQuestions 1 to 50. ADAPTIVE starts at the user's study-settings difficulty for the subject."
    )
    async def start_quiz_session(
        self, info: Info, subject_id: strawberry.ID, kind: QuizSessionKind, target_questions: int
    ) -> QuizSession:
        async with transaction() as db:
            row = await sessions.start_quiz_session(
                db, info.context.actor, parse_id(subject_id, "Subject"), kind, target_questions
            )
        return QuizSession.from_row(row)
