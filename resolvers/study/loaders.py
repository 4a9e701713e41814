"""Batch reads behind the study DataLoaders: one statement (at most) per batch, answers in key order."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.study import StudySummary


async def average_ratings(db: AsyncSession, subject_ids: list[uuid.UUID]) -> list[float | None]:
    """Each subject's mean rating over its rated summaries, None for a subject without one.

    One grouped statement for the whole batch, served by the partial index on rated summaries
    (ix_study_summaries_subject_id_rated).
    """
    statement = (
        select(col(StudySummary.subject_id), func.avg(col(StudySummary.rating)))
        .where(col(StudySummary.subject_id).in_(subject_ids), col(StudySummary.rating).is_not(None))
        .group_by(col(StudySummary.subject_id))
    )
    means = {subject_id: float(mean) for subject_id, mean in await db.execute(statement)}
    return [means.get(subject_id) for subject_id in subject_ids]
