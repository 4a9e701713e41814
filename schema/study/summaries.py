"""AI study summaries: request one for a credit, follow its job, read, rate and bookmark the result."""

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

import models.study as rows
from core.db import read_session, rows_by_ids, transaction
from resolvers.quizzes import generation
from resolvers.quizzes.catalogue import QuizView
from resolvers.study import summaries
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.relay import Connection
from schema.study.subjects import Difficulty, Subject, SummaryLength, load_subjects

if TYPE_CHECKING:
    from schema.quizzes.types import Quiz

AiJobKind = strawberry.enum(rows.AiJobKind, name="AiJobKind")
JobStatus = strawberry.enum(rows.JobStatus, name="JobStatus")


async def load_generated_quizzes(job_ids: list[uuid.UUID]) -> list[list[QuizView]]:
    async with read_session() as db:
        return await generation.quizzes_of_jobs(db, job_ids)


async def load_summaries(summary_ids: list[uuid.UUID]) -> list[rows.StudySummary | None]:
    async with read_session() as db:
        return await rows_by_ids(db, rows.StudySummary, summary_ids)


@strawberry.type
class StudySummary:
    id: strawberry.ID
    subject_id: strawberry.Private[uuid.UUID]
    topic: str | None
    title: str
    content: str
    difficulty: Difficulty
    language: str = strawberry.field(description="The language tag it is written in.")
    length: SummaryLength
    model: str
    created_at: datetime
    read_at: datetime | None
    rating: int | None
    bookmarked: bool

    @classmethod
    def from_row(cls, row: rows.StudySummary | summaries.SummaryEvent) -> "StudySummary":
        # The stored row and the published event carry the same fields.
        return cls(
            id=strawberry.ID(str(row.id)),
            subject_id=row.subject_id,
            topic=row.topic,
            title=row.title,
            content=row.content,
            difficulty=row.difficulty,
            language=row.language,
            length=row.length,
            model=row.model,
            created_at=row.created_at,
            read_at=row.read_at,
            rating=row.rating,
            bookmarked=row.bookmarked,
        )

    @strawberry.field
    async def subject(self, info: Info) -> Subject:
        row = await info.context.loader(load_subjects).load(self.subject_id)
        assert row is not None, "a summary's subject goes with it (ON DELETE CASCADE)"
        return Subject.from_row(row)

    @strawberry.field
    def is_read(self) -> bool:
        return self.read_at is not None


@strawberry.type
class AiJob:
    id: strawberry.ID
    kind: AiJobKind
    status: JobStatus
    error: str | None = strawberry.field(description="Why a FAILED job failed, for the user to read.")
    created_at: datetime
    finished_at: datetime | None
    requested_count: int | None = strawberry.field(description="QUIZ_GENERATION: how many were asked for.")
    dropped_count: int | None = strawberry.field(
        description="A DONE QUIZ_GENERATION job: how many of the AI's quizzes were invalid and dropped."
    )
    dropped_reasons: list[str] | None = strawberry.field(
        description="A DONE QUIZ_GENERATION job: why each dropped quiz was refused, as createQuiz would."
    )
    summary_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: rows.AiJob) -> "AiJob":
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            status=row.status,
            error=row.error,
            created_at=row.created_at,
            finished_at=row.finished_at,
            requested_count=row.requested_count,
            dropped_count=row.dropped_count,
            dropped_reasons=row.dropped_reasons,
            summary_id=row.summary_id,
        )

    @fields.field("The summary a DONE SUMMARY job wrote; null until then.")
    async def summary(self, info: Info) -> StudySummary | None:
        if self.summary_id is None:
            return None
        row = await info.context.loader(load_summaries).load(self.summary_id)
        return StudySummary.from_row(row) if row is not None else None

    @fields.field("The quizzes a DONE QUIZ_GENERATION job wrote (archived ones left out); empty otherwise.")
    async def quizzes(self, info: Info) -> list[Annotated["Quiz", strawberry.lazy("schema.quizzes.types")]]:
        # Imported here: the quiz types import the study schema, which this module belongs to.
        from schema.quizzes.types import Quiz

        views = await info.context.loader(load_generated_quizzes).load(parse_id(self.id, "AiJob"))
        return [Quiz.of(view) for view in views]


@strawberry.type
class SummariesQuery:
    @fields.field("The signed-in user's own summaries, newest first.")
    async def summaries(
        self,
        info: Info,
        subject_id: strawberry.ID | None = None,
        bookmarked: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[StudySummary]:
        subject = None if subject_id is None else parse_id(subject_id, "Subject")
        async with read_session() as db:
            page = await summaries.list_summaries(
                db, info.context.actor, subject_id=subject, bookmarked=bookmarked, first=first, after=after
            )
        return Connection.from_page(page, StudySummary.from_row)

    @fields.field("One of the signed-in user's summaries (another user's is NOT_FOUND).")
    async def summary(self, info: Info, id: strawberry.ID) -> StudySummary | None:
        async with read_session() as db:
            row = await summaries.get_own(db, info.context.actor, parse_id(id, "StudySummary"))
        return StudySummary.from_row(row)

    @fields.field("One of the signed-in user's AI jobs (another user's is NOT_FOUND).")
    async def ai_job(self, info: Info, id: strawberry.ID) -> AiJob | None:
        async with read_session() as db:
            row = await summaries.get_own_job(db, info.context.actor, parse_id(id, "AiJob"))
        return AiJob.from_row(row)


@strawberry.type
class SummariesMutation:
    @fields.mutation(
        "Queues an AI summary of the subject, on `topic` (at most 200 characters) when given, written for "
        "the user's study settings. Spends one SUMMARY credit (PAYMENT_REQUIRED when none is left), which "
        "is refunded if the job fails. AI_UNAVAILABLE, spending nothing, when no AI provider is "
        "configured; FORBIDDEN for a premium subject without a paid plan. The summary arrives on "
        "`summaryReady`; the job's state is `aiJob(id)`."
    )
    async def request_summary(self, info: Info, subject_id: strawberry.ID, topic: str | None = None) -> AiJob:
        async with transaction() as db:
            row = await summaries.request_summary(
                db, info.context.actor, parse_id(subject_id, "Subject"), topic
            )
        return AiJob.from_row(row)

    @fields.mutation("Marks the summary read; the first time counts, later calls change nothing.")
    async def mark_summary_read(self, info: Info, id: strawberry.ID) -> StudySummary:
        async with transaction() as db:
            row = await summaries.mark_read(db, info.context.actor, parse_id(id, "StudySummary"))
        return StudySummary.from_row(row)

    @fields.mutation("Rates the summary from 1 to 5; a new rating replaces the last.")
    async def rate_summary(self, info: Info, id: strawberry.ID, rating: int) -> StudySummary:
        async with transaction() as db:
            row = await summaries.rate(db, info.context.actor, parse_id(id, "StudySummary"), rating)
        return StudySummary.from_row(row)

    @strawberry.mutation
    async def bookmark_summary(self, info: Info, id: strawberry.ID, bookmarked: bool) -> StudySummary:
        async with transaction() as db:
            row = await summaries.bookmark(db, info.context.actor, parse_id(id, "StudySummary"), bookmarked)
        return StudySummary.from_row(row)


async def _summary_ready(info: Info) -> AsyncGenerator[StudySummary, None]:
    async for event in summaries.summary_events(info.context.actor):
        yield StudySummary.from_row(event)


@strawberry.type
class SummariesSubscription:
    summary_ready: AsyncGenerator[StudySummary, None] = strawberry.subscription(
        resolver=_summary_ready,
        description="The signed-in user's summaries as the worker finishes them.",
    )
