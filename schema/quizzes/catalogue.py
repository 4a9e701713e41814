"""Quizzes: the list and one quiz for everyone signed in; writing them for instructors and admins."""

import strawberry

from core.db import read_session, transaction
from resolvers.quizzes import authoring, catalogue
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.quizzes.types import Quiz, QuizInput, QuizType
from schema.relay import Connection
from schema.study.subjects import Difficulty


@strawberry.type
class CatalogueQuery:
    @fields.field("Live (not archived) quizzes, newest first. Listing a quiz does not start its clock.")
    async def quizzes(
        self,
        info: Info,
        subject_id: strawberry.ID | None = None,
        difficulty: Difficulty | None = None,
        type: QuizType | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Quiz]:
        async with read_session() as db:
            page = await catalogue.list_quizzes(
                db,
                info.context.actor,
                subject_id=None if subject_id is None else parse_id(subject_id, "Subject"),
                difficulty=difficulty,
                quiz_type=type,
                first=first,
                after=after,
            )
        return Connection.from_page(page, Quiz.of)

    @fields.field("One quiz, served: the time its answer takes is measured from now (from the first serve).")
    async def quiz(self, info: Info, id: strawberry.ID) -> Quiz | None:
        async with read_session() as db:
            view = await catalogue.serve_quiz(db, info.context.actor, parse_id(id, "Quiz"))
        return Quiz.of(view)


@strawberry.type
class CatalogueMutation:
    @fields.mutation("INSTRUCTOR or ADMIN. Only the answer field of the quiz's type may be given.")
    async def create_quiz(self, info: Info, input: QuizInput) -> Quiz:
        async with transaction() as db:
            row = await authoring.create_quiz(db, info.context.actor, input.draft())
        return Quiz.of(catalogue.view_of(row))

    @fields.mutation("The author or an ADMIN. A new version: answers already given keep their grades.")
    async def update_quiz(self, info: Info, id: strawberry.ID, input: QuizInput) -> Quiz:
        async with transaction() as db:
            row = await authoring.update_quiz(db, info.context.actor, parse_id(id, "Quiz"), input.draft())
        return Quiz.of(catalogue.view_of(row))

    @fields.mutation("The author or an ADMIN. Archived quizzes are neither listed nor served.")
    async def archive_quiz(self, info: Info, id: strawberry.ID) -> Quiz:
        async with transaction() as db:
            row = await authoring.archive_quiz(db, info.context.actor, parse_id(id, "Quiz"))
        return Quiz.of(catalogue.view_of(row))
