"""Subjects: the study catalogue. ADMINs create and edit it; everyone signed in reads and searches it."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, Role, require_role, require_user
from core.errors import BadInput, Conflict, NotFound
from core.pagination import Page, paginate
from models.base import utcnow
from models.study import (
    MAX_TAGS,
    SUBJECT_CATEGORY_LENGTH,
    SUBJECT_DESCRIPTION_LENGTH,
    SUBJECT_NAME_LENGTH,
    TAG_LENGTH,
    Difficulty,
    Subject,
    subject_search_text,
)

SEARCH_LENGTH = 200
DUPLICATE_NAME = "A subject with this name already exists"


class _Keep(Enum):
    KEEP = "KEEP"


KEEP = _Keep.KEEP
"""On update, a field given as KEEP keeps its stored value."""


@dataclass(frozen=True)
class SubjectDraft:
    """What an admin sends for a subject. On update, optional fields left None (or KEEP for the
    description, whose None clears it) keep their stored values; on create they take the defaults."""

    name: str
    category: str
    description: str | Literal[_Keep.KEEP] | None = KEEP
    default_difficulty: Difficulty | None = None
    requires_premium: bool | None = None
    tags: Sequence[str] | None = None


def normalize_tags(tags: Sequence[str]) -> list[str]:
    """Trimmed, inner spaces collapsed, lower-case and unique (first spelling's position kept); at most
    MAX_TAGS of TAG_LENGTH characters each."""
    normalized: list[str] = []
    for tag in tags:
        cleaned = text.clean(tag, "tags", max_length=TAG_LENGTH, required=True, collapse_spaces=True)
        assert cleaned is not None
        lowered = cleaned.lower()
        if lowered not in normalized:
            normalized.append(lowered)
    if len(normalized) > MAX_TAGS:
        raise BadInput(f"A subject has at most {MAX_TAGS} tags", field="tags")
    return normalized


def _clean_name(name: str) -> str:
    cleaned = text.clean(name, "name", max_length=SUBJECT_NAME_LENGTH, required=True, collapse_spaces=True)
    assert cleaned is not None
    return cleaned


def _clean_category(category: str) -> str:
    cleaned = text.clean(
        category, "category", max_length=SUBJECT_CATEGORY_LENGTH, required=True, collapse_spaces=True
    )
    assert cleaned is not None
    return cleaned


def _clean_description(description: str | None) -> str | None:
    return text.clean(description, "description", max_length=SUBJECT_DESCRIPTION_LENGTH, multi_line=True)


async def _refuse_duplicate_name(db: AsyncSession, name: str, subject_id: uuid.UUID | None) -> None:
    statement = select(col(Subject.id)).where(func.lower(col(Subject.name)) == func.lower(name))
    if subject_id is not None:
        statement = statement.where(col(Subject.id) != subject_id)
    if (await db.execute(statement.limit(1))).first() is not None:
        raise Conflict(DUPLICATE_NAME, field="name")


async def _flush(db: AsyncSession) -> None:
    try:
        await db.flush()
    except IntegrityError as error:
        # Lost a race with a concurrent create or rename to the same name (uq_subjects_name_lower).
        raise Conflict(DUPLICATE_NAME, field="name") from error


async def create_subject(db: AsyncSession, actor: Actor, draft: SubjectDraft) -> Subject:
    require_role(actor, Role.ADMIN)
    name = _clean_name(draft.name)
    subject = Subject(
        name=name,
        category=_clean_category(draft.category),
        description=None if draft.description is KEEP else _clean_description(draft.description),
        default_difficulty=draft.default_difficulty or Difficulty.MEDIUM,
        requires_premium=bool(draft.requires_premium),
        tags=normalize_tags(draft.tags or []),
    )
    await _refuse_duplicate_name(db, name, None)
    db.add(subject)
    await _flush(db)
    return subject


async def update_subject(
    db: AsyncSession, actor: Actor, subject_id: uuid.UUID, draft: SubjectDraft
) -> Subject:
    require_role(actor, Role.ADMIN)
    name = _clean_name(draft.name)
    category = _clean_category(draft.category)
    description = None if draft.description is KEEP else _clean_description(draft.description)
    tags = None if draft.tags is None else normalize_tags(draft.tags)
    subject = await db.get(Subject, subject_id, with_for_update=True)
    if subject is None:
        raise NotFound("Subject")
    await _refuse_duplicate_name(db, name, subject.id)
    subject.name = name
    subject.category = category
    if draft.description is not KEEP:
        subject.description = description
    if draft.default_difficulty is not None:
        subject.default_difficulty = draft.default_difficulty
    if draft.requires_premium is not None:
        subject.requires_premium = draft.requires_premium
    if tags is not None:
        subject.tags = tags
    subject.updated_at = utcnow()
    await _flush(db)
    return subject


async def get_subject(db: AsyncSession, actor: Actor, subject_id: uuid.UUID) -> Subject:
    require_user(actor)
    subject = await db.get(Subject, subject_id)
    if subject is None:
        raise NotFound("Subject")
    return subject


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def subjects_statement(search: str | None, category: str | None) -> Select[Subject]:
    """The catalogue filtered as `subjects` asks: `search` is a case-insensitive substring of the name,
    the description or a tag (through the trigram index on `subject_search_text`), `category` matches
    case-insensitively. Both are cleaned already."""
    statement = select(Subject)
    if search:
        statement = statement.where(subject_search_text().ilike(f"%{_escape_like(search)}%", escape="\\"))
    if category:
        statement = statement.where(func.lower(col(Subject.category)) == func.lower(category))
    return statement


async def list_subjects(
    db: AsyncSession,
    actor: Actor,
    *,
    search: str | None,
    category: str | None,
    first: int | None,
    after: str | None,
) -> Page[Subject]:
    """Subjects by name (A to Z), filtered; see `subjects_statement`."""
    require_user(actor)
    statement = subjects_statement(
        text.clean(search, "search", max_length=SEARCH_LENGTH),
        text.clean(category, "category", max_length=SUBJECT_CATEGORY_LENGTH, collapse_spaces=True),
    )
    keys = [col(Subject.name), col(Subject.id)]
    return await paginate(db, statement, keys, first=first, after=after, descending=False)
