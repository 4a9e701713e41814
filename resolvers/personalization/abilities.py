"""Ability beliefs kept up to date by every graded answer, and the `personalization` profile read from
them and from the activity log."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.auth import Actor, require_user
from models.personalization import WHOLE_SUBJECT, LearnerAbility
from models.study import ActivityKind, Difficulty, StudyActivity, Subject
from resolvers.personalization import model


def belief_of(row: LearnerAbility) -> model.Belief:
    return model.Belief(mean=row.ability, variance=row.ability_variance, answered=row.answered)


async def count_graded_answer(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    subject_id: uuid.UUID,
    topic: str | None,
    difficulty: Difficulty,
    score: float,
    now: datetime,
) -> None:
    """Updates the student's subject and topic beliefs with one graded answer, in the caller's
    transaction: one read, one upsert. Called right after `record_activity` (QUIZ_ANSWERED), whose per-user
    progress lock serialises this read-modify-write against the student's other answers."""
    topics = [WHOLE_SUBJECT] if not topic else [WHOLE_SUBJECT, topic]
    rows = (
        await db.execute(
            select(LearnerAbility).where(
                col(LearnerAbility.user_id) == user_id,
                col(LearnerAbility.subject_id) == subject_id,
                col(LearnerAbility.topic).in_(topics),
            )
        )
    ).scalars()
    current = {row.topic: belief_of(row) for row in rows}
    subject_before = current.get(WHOLE_SUBJECT, model.Belief())
    after = {WHOLE_SUBJECT: model.update(subject_before, difficulty, score)}
    if topic:
        after[topic] = model.update(current.get(topic, model.topic_prior(subject_before)), difficulty, score)
    statement = insert(LearnerAbility).values(
        [
            {
                "user_id": user_id,
                "subject_id": subject_id,
                "topic": key,
                "ability": belief.mean,
                "ability_variance": belief.variance,
                "answered": belief.answered,
                "updated_at": now,
            }
            for key, belief in after.items()
        ]
    )
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[
                col(LearnerAbility.user_id),
                col(LearnerAbility.subject_id),
                col(LearnerAbility.topic),
            ],
            set_={
                "ability": statement.excluded.ability,
                "ability_variance": statement.excluded.ability_variance,
                "answered": statement.excluded.answered,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


async def subject_level(db: AsyncSession, user_id: uuid.UUID, subject_id: uuid.UUID) -> Difficulty | None:
    """The student's level in the subject, or None before their first graded answer in it."""
    row = await db.get(LearnerAbility, (user_id, subject_id, WHOLE_SUBJECT))
    return None if row is None else model.level(belief_of(row))


async def abilities_of(db: AsyncSession, user_id: uuid.UUID) -> list[LearnerAbility]:
    """All the student's beliefs, subjects and topics."""
    statement = select(LearnerAbility).where(col(LearnerAbility.user_id) == user_id)
    return list((await db.execute(statement)).scalars())


@dataclass(frozen=True)
class LevelView:
    level: Difficulty
    mastery: float
    answered: int

    @classmethod
    def of(cls, row: LearnerAbility) -> "LevelView":
        belief = belief_of(row)
        return cls(level=model.level(belief), mastery=model.mastery(belief), answered=row.answered)


@dataclass(frozen=True)
class SubjectLevelView:
    subject_id: uuid.UUID
    overall: LevelView
    # The subject's quiz topics the student answered, A to Z.
    topics: list[tuple[str, LevelView]]


@dataclass(frozen=True)
class ProfileView:
    style: model.StyleEstimate
    subjects: list[SubjectLevelView]


async def personalization(db: AsyncSession, actor: Actor) -> ProfileView:
    """The signed-in student's profile: two statements (the activity counts, the beliefs)."""
    user = require_user(actor)
    statement = (
        select(col(StudyActivity.kind), func.count())
        .where(
            col(StudyActivity.user_id) == user.user_id,
            col(StudyActivity.kind).in_([ActivityKind.SUMMARY_READ, ActivityKind.QUIZ_ANSWERED]),
        )
        .group_by(col(StudyActivity.kind))
    )
    counts = {kind: count for kind, count in await db.execute(statement)}
    rows = (
        await db.execute(
            select(LearnerAbility)
            .join(Subject, col(Subject.id) == col(LearnerAbility.subject_id))
            .where(col(LearnerAbility.user_id) == user.user_id)
            .order_by(col(Subject.name), col(Subject.id), col(LearnerAbility.topic))
        )
    ).scalars()
    levels: list[SubjectLevelView] = []
    for row in rows:
        # The subject's own row sorts first (its topic is ''), its topics after it.
        if row.topic == WHOLE_SUBJECT:
            levels.append(SubjectLevelView(subject_id=row.subject_id, overall=LevelView.of(row), topics=[]))
        else:
            levels[-1].topics.append((row.topic, LevelView.of(row)))
    style = model.learning_style(
        counts.get(ActivityKind.SUMMARY_READ, 0), counts.get(ActivityKind.QUIZ_ANSWERED, 0)
    )
    return ProfileView(style=style, subjects=levels)
