"""The study companion's roots, one module per part, merged into the roots `schema/__init__.py` composes."""

from strawberry.tools import merge_types

from schema.study.learning import LearningMutation, LearningSubscription
from schema.study.subjects import SubjectsMutation, SubjectsQuery

StudyQuery = merge_types("StudyQuery", (SubjectsQuery,))
StudyMutation = merge_types("StudyMutation", (SubjectsMutation, LearningMutation))
StudySubscription = merge_types("StudySubscription", (LearningSubscription,))

__all__ = ["StudyMutation", "StudyQuery", "StudySubscription"]
