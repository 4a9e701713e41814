"""Subjects and each user's study settings per subject."""

import uuid

import strawberry

import models.study as rows
from core.db import read_session, rows_by_ids, transaction
from resolvers.study import loaders, settings, subjects
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.relay import Connection

Difficulty = strawberry.enum(rows.Difficulty, name="Difficulty")
SummaryLength = strawberry.enum(rows.SummaryLength, name="SummaryLength")


async def load_average_ratings(subject_ids: list[uuid.UUID]) -> list[float | None]:
    async with read_session() as db:
        return await loaders.average_ratings(db, subject_ids)


async def load_subjects(subject_ids: list[uuid.UUID]) -> list[rows.Subject | None]:
    """Batch function for `info.context.loader(load_subjects)`, wherever another type points at a subject."""
    async with read_session() as db:
        return await rows_by_ids(db, rows.Subject, subject_ids)


@strawberry.type
class Subject:
    id: strawberry.ID
    name: str
    category: str
    description: str | None
    default_difficulty: Difficulty
    requires_premium: bool
    tags: list[str] = strawberry.field(description="Lower-case and unique, at most 20.")

    @classmethod
    def from_row(cls, row: rows.Subject) -> "Subject":
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            category=row.category,
            description=row.description,
            default_difficulty=row.default_difficulty,
            requires_premium=row.requires_premium,
            tags=list(row.tags),
        )

    @fields.field("The mean rating (1 to 5) of the subject's rated summaries; null while none is rated.")
    async def average_rating(self, info: Info) -> float | None:
        return await info.context.loader(load_average_ratings).load(uuid.UUID(self.id))


@strawberry.type
class StudySettings:
    id: strawberry.ID = strawberry.field(description="Stable for one user and subject, for client caches.")
    subject: Subject
    difficulty: Difficulty
    daily_goal_minutes: int
    summary_length: SummaryLength
    language: str
    saved: bool = strawberry.field(
        description="False while these are the defaults: the user has saved nothing for the subject."
    )

    @classmethod
    def from_view(cls, view: settings.SettingsView) -> "StudySettings":
        return cls(
            id=strawberry.ID(f"{view.subject.id}:{view.user_id}"),
            subject=Subject.from_row(view.subject),
            difficulty=view.difficulty,
            daily_goal_minutes=view.daily_goal_minutes,
            summary_length=view.summary_length,
            language=view.language,
            saved=view.saved,
        )


@strawberry.input
class SubjectInput:
    name: str
    category: str
    description: str | None = strawberry.UNSET
    default_difficulty: Difficulty | None = None
    requires_premium: bool | None = None
    tags: list[str] | None = None

    def draft(self) -> subjects.SubjectDraft:
        return subjects.SubjectDraft(
            name=self.name,
            category=self.category,
            description=subjects.KEEP if self.description is strawberry.UNSET else self.description,
            default_difficulty=self.default_difficulty,
            requires_premium=self.requires_premium,
            tags=self.tags,
        )


@strawberry.input
class StudySettingsInput:
    difficulty: Difficulty | None = None
    daily_goal_minutes: int | None = strawberry.field(default=None, description="5 to 600.")
    summary_length: SummaryLength | None = None
    language: str | None = strawberry.field(default=None, description="A language tag such as ko or en-US.")

    def changes(self) -> settings.SettingsChanges:
        return settings.SettingsChanges(
            difficulty=self.difficulty,
            daily_goal_minutes=self.daily_goal_minutes,
            summary_length=self.summary_length,
            language=self.language,
        )


@strawberry.type
class SubjectsQuery:
    @fields.field(
        "Subjects by name, A to Z. `search` finds a case-insensitive part of the name, the description or a "
        "tag; `category` matches the whole category, case-insensitively."
    )
    async def subjects(
        self,
        info: Info,
        search: str | None = None,
        category: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Subject]:
        async with read_session() as db:
            page = await subjects.list_subjects(
                db, info.context.actor, search=search, category=category, first=first, after=after
            )
        return Connection.from_page(page, Subject.from_row)

    @strawberry.field
    async def subject(self, info: Info, id: strawberry.ID) -> Subject | None:
        async with read_session() as db:
            row = await subjects.get_subject(db, info.context.actor, parse_id(id, "Subject"))
        return Subject.from_row(row)

    @fields.field(
        "The signed-in user's settings for the subject; until they save some, the defaults (the subject's "
        "difficulty, 30 minutes a day, MEDIUM summaries, the profile's language), which are not saved."
    )
    async def study_settings(self, info: Info, subject_id: strawberry.ID) -> StudySettings:
        async with read_session() as db:
            view = await settings.study_settings(db, info.context.actor, parse_id(subject_id, "Subject"))
        return StudySettings.from_view(view)


@strawberry.type
class SubjectsMutation:
    @fields.mutation("ADMIN only. Names are unique regardless of case (CONFLICT).")
    async def create_subject(self, info: Info, input: SubjectInput) -> Subject:
        async with transaction() as db:
            row = await subjects.create_subject(db, info.context.actor, input.draft())
        return Subject.from_row(row)

    @fields.mutation(
        "ADMIN only. Optional fields left out keep their values; `description: null` clears the description."
    )
    async def update_subject(self, info: Info, id: strawberry.ID, input: SubjectInput) -> Subject:
        async with transaction() as db:
            row = await subjects.update_subject(
                db, info.context.actor, parse_id(id, "Subject"), input.draft()
            )
        return Subject.from_row(row)

    @fields.mutation("Saves the given fields of the signed-in user's settings for the subject; others stay.")
    async def update_study_settings(
        self, info: Info, subject_id: strawberry.ID, input: StudySettingsInput
    ) -> StudySettings:
        async with transaction() as db:
            view = await settings.update_study_settings(
                db, info.context.actor, parse_id(subject_id, "Subject"), input.changes()
            )
        return StudySettings.from_view(view)
