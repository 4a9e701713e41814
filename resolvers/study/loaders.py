"""Batch reads behind the study DataLoaders: one statement (at most) per batch, answers in key order."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession


async def average_ratings(db: AsyncSession, subject_ids: list[uuid.UUID]) -> list[float | None]:
    """Each subject's mean rating over its rated summaries, None for a subject without one.

    The seam for summaries (issue 11, item 4): there is no summaries table yet, so no subject has a
    rating and this answers None for every subject without asking the database. When `study_summaries`
    lands with its nullable `rating` (1 to 5), this becomes one grouped statement for the whole batch:

        select(StudySummary.subject_id, func.avg(StudySummary.rating))
        .where(StudySummary.subject_id.in_(subject_ids), StudySummary.rating.is_not(None))
        .group_by(StudySummary.subject_id)

    answered in key order (None where a subject has no rated summary), with an index on
    (subject_id) WHERE rating IS NOT NULL; `Subject.averageRating` and its statement-count test stay as
    they are.
    """
    del db  # used once summaries exist
    return [None for _ in subject_ids]
