"""Personalization: the student's observed learning preference, level and mastery per subject, and what
to do next."""

import uuid

import strawberry

from core.db import read_session
from resolvers.personalization import abilities, model, recommendations
from schema import fields
from schema.context import Info
from schema.quizzes.types import Quiz, load_quizzes
from schema.study.subjects import Difficulty, Subject, load_subjects
from schema.study.summaries import StudySummary, load_summaries

LearningStyle = strawberry.enum(model.LearningStyle, name="LearningStyle")
RecommendationKind = strawberry.enum(recommendations.RecommendationKind, name="RecommendationKind")


async def _subject(info: Info, subject_id: uuid.UUID) -> Subject:
    row = await info.context.loader(load_subjects).load(subject_id)
    # Beliefs and recommendations are of subjects that exist (ON DELETE CASCADE, read just now).
    assert row is not None
    return Subject.from_row(row)


_LEVEL = (
    "The hardest difficulty the student is predicted to answer correctly at least 70 % of the time (so "
    "about 70-85 %); EASY when none is."
)
_MASTERY = (
    "The predicted probability (0 to 1) of answering a MEDIUM question correctly now, from a logistic "
    "ability model updated by every graded answer."
)


@strawberry.type
class TopicLevel:
    topic: str
    level: Difficulty = strawberry.field(description=_LEVEL)
    mastery: float = strawberry.field(description=_MASTERY)
    answered: int = strawberry.field(description="Graded answers in the topic.")


@strawberry.type
class SubjectLevel:
    level: Difficulty = strawberry.field(description=_LEVEL)
    mastery: float = strawberry.field(description=_MASTERY)
    answered: int = strawberry.field(description="Graded answers the estimate rests on.")
    topics: list[TopicLevel] = strawberry.field(
        description="The subject's quiz topics the student answered, A to Z; a topic's estimate starts "
        "from the subject's."
    )
    subject_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, view: abilities.SubjectLevelView) -> "SubjectLevel":
        return cls(
            level=view.overall.level,
            mastery=view.overall.mastery,
            answered=view.overall.answered,
            topics=[
                TopicLevel(topic=topic, level=level.level, mastery=level.mastery, answered=level.answered)
                for topic, level in view.topics
            ],
            subject_id=view.subject_id,
        )

    @strawberry.field
    async def subject(self, info: Info) -> Subject:
        return await _subject(info, self.subject_id)


@strawberry.type
class PersonalizationProfile:
    learning_style: LearningStyle = strawberry.field(
        description="An observed preference, not a diagnosis: READING when summaries read make most of the "
        "student's activity, KINESTHETIC when quiz answers do, MIXED otherwise and without evidence. "
        "VISUAL and AUDITORY are never inferred (nothing recorded shows them)."
    )
    style_confidence: float = strawberry.field(
        description="0 to 1: grows with the evidence and with how clear the preference is; 0 without "
        "evidence."
    )
    evidence_count: int = strawberry.field(description="Summaries read plus quiz answers counted.")
    subjects: list[SubjectLevel] = strawberry.field(description="Subjects with graded answers, A to Z.")


@strawberry.type
class Recommendation:
    kind: RecommendationKind
    reason: str = strawberry.field(description="Why, in the user's language (Korean or English).")
    reason_code: str = strawberry.field(
        description="FSRS_DUE, WEAK_TOPIC_AT_LEVEL, UNREAD_SUMMARY or RELATED_SUBJECT."
    )
    score: float = strawberry.field(
        description="Higher first: the kind's tier (review 3, new quiz 2, summary 1, subject 0) plus a "
        "fraction below 1 from the kind's own measure."
    )
    subject_id: strawberry.Private[uuid.UUID]
    quiz_id: strawberry.Private[uuid.UUID | None]
    summary_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, view: recommendations.RecommendationView) -> "Recommendation":
        return cls(
            kind=view.kind,
            reason=view.reason,
            reason_code=view.reason_code,
            score=view.score,
            subject_id=view.subject_id,
            quiz_id=view.quiz_id,
            summary_id=view.summary_id,
        )

    @strawberry.field
    async def subject(self, info: Info) -> Subject:
        return await _subject(info, self.subject_id)

    @fields.field("REVIEW_QUIZ and NEW_QUIZ: the quiz (listing it does not start its clock).")
    async def quiz(self, info: Info) -> Quiz | None:
        if self.quiz_id is None:
            return None
        view = await info.context.loader(load_quizzes).load(self.quiz_id)
        return None if view is None else Quiz.of(view)

    @fields.field("READ_SUMMARY: the summary.")
    async def summary(self, info: Info) -> StudySummary | None:
        if self.summary_id is None:
            return None
        row = await info.context.loader(load_summaries).load(self.summary_id)
        return None if row is None else StudySummary.from_row(row)


@strawberry.type
class PersonalizationQuery:
    @fields.field("The signed-in student's profile, derived from their own recorded activity only.")
    async def personalization(self, info: Info) -> PersonalizationProfile:
        async with read_session() as db:
            view = await abilities.personalization(db, info.context.actor)
        return PersonalizationProfile(
            learning_style=view.style.style,
            style_confidence=view.style.confidence,
            evidence_count=view.style.evidence,
            subjects=[SubjectLevel.of(level) for level in view.subjects],
        )

    @fields.field(
        "What to do next, best first: due reviews, then new quizzes at the student's level in weak topics, "
        "then unread summaries, then related subjects. `limit` 1 to 50, 10 by default."
    )
    async def recommendations(self, info: Info, limit: int | None = None) -> list[Recommendation]:
        async with read_session() as db:
            views = await recommendations.recommendations(db, info.context.actor, limit)
        return [Recommendation.of(view) for view in views]
