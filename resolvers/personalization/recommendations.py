"""`recommendations(limit)`: what the student should do next, in four statements however many candidates.

The order is by kind first, then by a kind's own measure; `score` encodes both (the kind's tier plus a
fraction below 1), so sorting by score is the order:

- REVIEW_QUIZ (tier 3): quizzes whose FSRS card is due, the most overdue first;
- NEW_QUIZ (tier 2): live quizzes of the student's subjects (those with activity or saved settings) they
  never answered, favouring weak topics (low topic mastery) and questions whose predicted success is
  nearest the 70-85 % band of the student's level;
- READ_SUMMARY (tier 1): the student's unread summaries, newest first;
- NEW_SUBJECT (tier 0): subjects the student has not studied that share the category or tags of one they
  have, the more shared the better.

Nothing of a `requiresPremium` subject is recommended without a paid plan, archived quizzes never are,
and a quiz the student answered once (graded or not) is never NEW_QUIZ. The NEW_QUIZ pool is the
NEW_QUIZ_POOL newest candidates, scored here; every other kind reads at most MAX_LIMIT rows.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor, require_user
from core.errors import BadInput
from models.accounts import User
from models.base import utcnow
from models.personalization import WHOLE_SUBJECT
from models.study import Difficulty
from resolvers.billing.plans import has_paid_plan
from resolvers.personalization import model
from resolvers.personalization.abilities import abilities_of, belief_of

DEFAULT_LIMIT = 10
MAX_LIMIT = 50
NEW_QUIZ_POOL = 200
# The middle of the 70-85 % band a student's level is defined by.
TARGET_SUCCESS = (model.LEVEL_LOW + model.LEVEL_HIGH) / 2
# How far from TARGET_SUCCESS a question's predicted success may be and still fit the student at all.
_FIT_WIDTH = 0.5
# Keeps a kind's fraction strictly below 1, so it never reaches the next kind's tier.
_BELOW_ONE = 0.999
_SECONDS_PER_DAY = 86_400


class RecommendationKind(StrEnum):
    REVIEW_QUIZ = "REVIEW_QUIZ"
    NEW_QUIZ = "NEW_QUIZ"
    READ_SUMMARY = "READ_SUMMARY"
    NEW_SUBJECT = "NEW_SUBJECT"


_TIER = {
    RecommendationKind.REVIEW_QUIZ: 3,
    RecommendationKind.NEW_QUIZ: 2,
    RecommendationKind.READ_SUMMARY: 1,
    RecommendationKind.NEW_SUBJECT: 0,
}


@dataclass(frozen=True)
class RecommendationView:
    kind: RecommendationKind
    subject_id: uuid.UUID
    quiz_id: uuid.UUID | None
    summary_id: uuid.UUID | None
    reason: str
    reason_code: str
    score: float


_CANDIDATES = text(
    """
WITH mine AS (
    SELECT subject_id FROM study_activities WHERE user_id = :user_id
    UNION
    SELECT subject_id FROM study_settings WHERE user_id = :user_id
),
allowed AS (SELECT * FROM subjects WHERE :paid OR NOT requires_premium)
(SELECT 'REVIEW_QUIZ' AS kind, q.subject_id, q.id AS quiz_id, NULL::uuid AS summary_id, q.topic,
        q.difficulty, c.due AS at, NULL::text AS title, 0 AS same_category, 0 AS shared_tags
 FROM quiz_cards AS c
 JOIN quizzes AS q ON q.id = c.quiz_id
 JOIN allowed AS s ON s.id = q.subject_id
 WHERE c.user_id = :user_id AND c.due <= :now AND q.archived_at IS NULL
 ORDER BY c.due, q.id LIMIT :cap)
UNION ALL
(SELECT 'NEW_QUIZ', q.subject_id, q.id, NULL, q.topic, q.difficulty, q.created_at, NULL, 0, 0
 FROM quizzes AS q
 JOIN allowed AS s ON s.id = q.subject_id
 WHERE q.subject_id IN (SELECT subject_id FROM mine) AND q.archived_at IS NULL
   AND NOT EXISTS (SELECT FROM quiz_attempts AS a WHERE a.user_id = :user_id AND a.quiz_id = q.id)
 ORDER BY q.created_at DESC, q.id LIMIT :pool)
UNION ALL
(SELECT 'READ_SUMMARY', m.subject_id, NULL, m.id, m.topic, NULL, m.created_at, m.title, 0, 0
 FROM study_summaries AS m
 JOIN allowed AS s ON s.id = m.subject_id
 WHERE m.user_id = :user_id AND m.read_at IS NULL
 ORDER BY m.created_at DESC, m.id LIMIT :cap)
UNION ALL
(SELECT 'NEW_SUBJECT', subject_id, NULL, NULL, NULL, NULL, NULL, via, same_category, shared_tags
 FROM (
     -- Each unstudied subject with the student's subject it is most related to.
     SELECT DISTINCT ON (s.id) s.id AS subject_id, o.name AS via,
            (lower(s.category) = lower(o.category))::int AS same_category,
            cardinality(ARRAY(SELECT unnest(s.tags) INTERSECT SELECT unnest(o.tags))) AS shared_tags
     FROM allowed AS s
     JOIN subjects AS o ON o.id IN (SELECT subject_id FROM mine)
     WHERE s.id NOT IN (SELECT subject_id FROM mine)
       AND (lower(s.category) = lower(o.category) OR s.tags && o.tags)
     ORDER BY s.id,
              (lower(s.category) = lower(o.category))::int
                + cardinality(ARRAY(SELECT unnest(s.tags) INTERSECT SELECT unnest(o.tags))) DESC,
              o.name
 ) AS related
 ORDER BY same_category + shared_tags DESC, subject_id LIMIT :cap)
"""
)

_DIFFICULTY_NAMES = {
    "ko": {Difficulty.EASY: "쉬운", Difficulty.MEDIUM: "보통", Difficulty.HARD: "어려운"},
    "en": {Difficulty.EASY: "easy", Difficulty.MEDIUM: "medium", Difficulty.HARD: "hard"},
}


def _language(profile_language: str) -> str:
    return "ko" if profile_language.lower().startswith("ko") else "en"


def _review(row: Any, now: datetime, language: str) -> tuple[float, str]:
    overdue_days = max(0.0, (now - row.at).total_seconds() / _SECONDS_PER_DAY)
    about = row.topic or ("이 문제" if language == "ko" else "this question")
    reason = (
        f"복습할 때예요: {about}을(를) 잊기 전에 다시 풀어 보세요."
        if language == "ko"
        else f"Due for review: recall {about} before you forget it."
    )
    return _BELOW_ONE * overdue_days / (1 + overdue_days), reason


def _new_quiz(
    row: Any, beliefs: dict[tuple[uuid.UUID, str], model.Belief], language: str
) -> tuple[float, str]:
    subject = beliefs.get((row.subject_id, WHOLE_SUBJECT), model.Belief())
    belief = beliefs.get((row.subject_id, row.topic), model.topic_prior(subject)) if row.topic else subject
    difficulty = Difficulty(row.difficulty)
    weakness = 1 - model.mastery(belief)
    fit = 1 - min(1.0, abs(model.predict(belief, difficulty) - TARGET_SUCCESS) / _FIT_WIDTH)
    percent = round(100 * model.mastery(belief))
    level = _DIFFICULTY_NAMES[language][difficulty]
    if language == "ko":
        about = f"'{row.topic}'" if row.topic else "이 과목"
        reason = f"{about} 숙련도 {percent}%: 지금 수준에 맞는 {level} 문제예요."
    else:
        about = f"'{row.topic}'" if row.topic else "this subject"
        reason = f"Your mastery of {about} is {percent}%: a {level} question at your level."
    return _BELOW_ONE * (weakness + fit) / 2, reason


def _summary(row: Any, now: datetime, language: str) -> tuple[float, str]:
    age_days = max(0.0, (now - row.at).total_seconds() / _SECONDS_PER_DAY)
    reason = (
        f"아직 읽지 않은 요약이에요: “{row.title}”."
        if language == "ko"
        else f"You have not read your summary “{row.title}” yet."
    )
    return _BELOW_ONE / (1 + age_days), reason


def _subject(row: Any, language: str) -> tuple[float, str]:
    shared = row.same_category + row.shared_tags
    if language == "ko":
        why = "같은 분야" if row.same_category else f"공통 태그 {row.shared_tags}개"
        reason = f"공부 중인 {row.title}와(과) 관련된 과목이에요 ({why})."
    else:
        why = "same category" if row.same_category else f"{row.shared_tags} shared tags"
        reason = f"Related to {row.title}, which you study ({why})."
    return _BELOW_ONE * shared / (1 + shared), reason


_REASON_CODES = {
    RecommendationKind.REVIEW_QUIZ: "FSRS_DUE",
    RecommendationKind.NEW_QUIZ: "WEAK_TOPIC_AT_LEVEL",
    RecommendationKind.READ_SUMMARY: "UNREAD_SUMMARY",
    RecommendationKind.NEW_SUBJECT: "RELATED_SUBJECT",
}


async def recommendations(
    db: AsyncSession, actor: Actor, limit: int | None, *, now: datetime | None = None
) -> list[RecommendationView]:
    """At most `limit` (1 to 50, by default 10) recommendations for the signed-in student, best first."""
    user = require_user(actor)
    wanted = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= wanted <= MAX_LIMIT:
        raise BadInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    moment = now or utcnow()
    profile = await db.get(User, user.user_id)
    language = _language(profile.language if profile is not None else "en")
    paid = await has_paid_plan(db, user.user_id)
    beliefs = {(row.subject_id, row.topic): belief_of(row) for row in await abilities_of(db, user.user_id)}
    rows = await db.execute(
        _CANDIDATES.bindparams(user_id=user.user_id, paid=paid, now=moment, cap=MAX_LIMIT, pool=NEW_QUIZ_POOL)
    )
    found: list[RecommendationView] = []
    for row in rows:
        kind = RecommendationKind(row.kind)
        if kind is RecommendationKind.REVIEW_QUIZ:
            fraction, reason = _review(row, moment, language)
        elif kind is RecommendationKind.NEW_QUIZ:
            fraction, reason = _new_quiz(row, beliefs, language)
        elif kind is RecommendationKind.READ_SUMMARY:
            fraction, reason = _summary(row, moment, language)
        else:
            fraction, reason = _subject(row, language)
        found.append(
            RecommendationView(
                kind=kind,
                subject_id=row.subject_id,
                quiz_id=row.quiz_id,
                summary_id=row.summary_id,
                reason=reason,
                reason_code=_REASON_CODES[kind],
                score=_TIER[kind] + fraction,
            )
        )
    found.sort(key=lambda view: -view.score)
    return found[:wanted]
