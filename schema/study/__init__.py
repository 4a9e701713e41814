"""The study companion's roots, one module per part, merged into the roots `schema/__init__.py` composes."""

from strawberry.tools import merge_types

from schema.study.learning import LearningMutation, LearningSubscription
from schema.study.progress import ProgressMutation, ProgressQuery
from schema.study.subjects import SubjectsMutation, SubjectsQuery
from schema.study.summaries import SummariesMutation, SummariesQuery, SummariesSubscription

StudyQuery = merge_types("StudyQuery", (SubjectsQuery, SummariesQuery, ProgressQuery))
StudyMutation = merge_types(
    "StudyMutation", (SubjectsMutation, SummariesMutation, ProgressMutation, LearningMutation)
)
StudySubscription = merge_types("StudySubscription", (SummariesSubscription, LearningSubscription))

__all__ = ["StudyMutation", "StudyQuery", "StudySubscription"]
