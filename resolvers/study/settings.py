"""Study settings: each user's choices for one subject, or the defaults while they have made none."""

import uuid
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, require_user
from core.errors import BadInput, NotFound
from models.accounts import User
from models.base import utcnow
from models.study import (
    MAX_DAILY_GOAL_MINUTES,
    MIN_DAILY_GOAL_MINUTES,
    Difficulty,
    StudySettings,
    Subject,
    SummaryLength,
)
from resolvers.study.subjects import get_subject

DEFAULT_DAILY_GOAL_MINUTES = 30
DEFAULT_SUMMARY_LENGTH = SummaryLength.MEDIUM


@dataclass(frozen=True)
class SettingsChanges:
    """What `updateStudySettings` sends; a field left None keeps its current (stored or default) value."""

    difficulty: Difficulty | None = None
    daily_goal_minutes: int | None = None
    summary_length: SummaryLength | None = None
    language: str | None = None


@dataclass(frozen=True)
class SettingsView:
    user_id: uuid.UUID
    subject: Subject
    difficulty: Difficulty
    daily_goal_minutes: int
    summary_length: SummaryLength
    language: str
    # False while the user has saved nothing for the subject and these are the defaults.
    saved: bool

    @classmethod
    def of(cls, row: StudySettings, subject: Subject) -> "SettingsView":
        return cls(
            user_id=row.user_id,
            subject=subject,
            difficulty=row.difficulty,
            daily_goal_minutes=row.daily_goal_minutes,
            summary_length=row.summary_length,
            language=row.language,
            saved=True,
        )


async def _user_language(db: AsyncSession, user_id: uuid.UUID) -> str:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("User")
    return user.language


async def study_settings(db: AsyncSession, actor: Actor, subject_id: uuid.UUID) -> SettingsView:
    """The user's saved settings for the subject, or the defaults (the subject's difficulty, 30 minutes a
    day, MEDIUM summaries, the profile's language) without saving them."""
    user = require_user(actor)
    subject = await get_subject(db, actor, subject_id)
    return await settings_for(db, user.user_id, subject)


async def settings_for(db: AsyncSession, user_id: uuid.UUID, subject: Subject) -> SettingsView:
    """`study_settings` for work done on the user's behalf (a worker job), without an actor."""
    row = await db.get(StudySettings, (user_id, subject.id))
    if row is not None:
        return SettingsView.of(row, subject)
    return SettingsView(
        user_id=user_id,
        subject=subject,
        difficulty=subject.default_difficulty,
        daily_goal_minutes=DEFAULT_DAILY_GOAL_MINUTES,
        summary_length=DEFAULT_SUMMARY_LENGTH,
        language=await _user_language(db, user_id),
        saved=False,
    )


def _check(changes: SettingsChanges) -> SettingsChanges:
    """`changes` with the language cleaned; BadInput naming the field for a value out of range."""
    minutes = changes.daily_goal_minutes
    if minutes is not None and not MIN_DAILY_GOAL_MINUTES <= minutes <= MAX_DAILY_GOAL_MINUTES:
        raise BadInput(
            f"dailyGoalMinutes must be between {MIN_DAILY_GOAL_MINUTES} and {MAX_DAILY_GOAL_MINUTES}",
            field="dailyGoalMinutes",
        )
    language = None if changes.language is None else text.language_tag(changes.language, "language")
    return SettingsChanges(changes.difficulty, minutes, changes.summary_length, language)


async def update_study_settings(
    db: AsyncSession, actor: Actor, subject_id: uuid.UUID, changes: SettingsChanges
) -> SettingsView:
    """Saves the given fields over the current settings (the defaults when none are saved yet).

    One upsert that writes only the given columns over an existing row, so two concurrent updates of
    different fields both land.
    """
    user = require_user(actor)
    changes = _check(changes)
    subject = await get_subject(db, actor, subject_id)
    given = {
        "difficulty": changes.difficulty,
        "daily_goal_minutes": changes.daily_goal_minutes,
        "summary_length": changes.summary_length,
        "language": changes.language,
    }
    given = {column: value for column, value in given.items() if value is not None}
    now = utcnow()
    values = {
        "user_id": user.user_id,
        "subject_id": subject.id,
        "difficulty": subject.default_difficulty,
        "daily_goal_minutes": DEFAULT_DAILY_GOAL_MINUTES,
        "summary_length": DEFAULT_SUMMARY_LENGTH,
        "language": given.get("language") or await _user_language(db, user.user_id),
        "created_at": now,
        "updated_at": now,
    } | given
    statement = (
        insert(StudySettings)
        .values(values)
        .on_conflict_do_update(
            index_elements=[col(StudySettings.user_id), col(StudySettings.subject_id)],
            set_={**given, "updated_at": now},
        )
        .returning(StudySettings)
        .execution_options(populate_existing=True)
    )
    row = (await db.execute(statement)).scalar_one()
    return SettingsView.of(row, subject)
