"""Tables of the study companion, one module per part; importing the package registers them all."""

from models.study.learning import LearningSession, LearningSessionEnd
from models.study.subjects import (
    LANGUAGE_LENGTH,
    MAX_DAILY_GOAL_MINUTES,
    MAX_TAGS,
    MIN_DAILY_GOAL_MINUTES,
    SUBJECT_CATEGORY_LENGTH,
    SUBJECT_DESCRIPTION_LENGTH,
    SUBJECT_NAME_LENGTH,
    TAG_LENGTH,
    Difficulty,
    StudySettings,
    Subject,
    SummaryLength,
    subject_search_text,
)

__all__ = [
    "LANGUAGE_LENGTH",
    "MAX_DAILY_GOAL_MINUTES",
    "MAX_TAGS",
    "MIN_DAILY_GOAL_MINUTES",
    "SUBJECT_CATEGORY_LENGTH",
    "SUBJECT_DESCRIPTION_LENGTH",
    "SUBJECT_NAME_LENGTH",
    "TAG_LENGTH",
    "Difficulty",
    "LearningSession",
    "LearningSessionEnd",
    "StudySettings",
    "Subject",
    "SummaryLength",
    "subject_search_text",
]
