"""The study companion's channels and events: a user's summaries as the worker finishes them.

`SummaryReady` carries the summary as subscribers render it, so a fan-out costs no database read for it.
"""

import uuid
from datetime import datetime

from broadcast.events import BroadcastEvent
from models.study import Difficulty, StudySummary, SummaryLength


def summaries_channel(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:summaries"


class SummaryReady(BroadcastEvent):
    id: uuid.UUID
    subject_id: uuid.UUID
    topic: str | None
    title: str
    content: str
    difficulty: Difficulty
    language: str
    length: SummaryLength
    model: str
    created_at: datetime
    read_at: datetime | None
    rating: int | None
    bookmarked: bool

    @classmethod
    def of(cls, summary: StudySummary) -> "SummaryReady":
        return cls(
            id=summary.id,
            subject_id=summary.subject_id,
            topic=summary.topic,
            title=summary.title,
            content=summary.content,
            difficulty=summary.difficulty,
            language=summary.language,
            length=summary.length,
            model=summary.model,
            created_at=summary.created_at,
            read_at=summary.read_at,
            rating=summary.rating,
            bookmarked=summary.bookmarked,
        )
