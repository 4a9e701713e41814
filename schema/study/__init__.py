"""The study companion's roots, one module per part, merged into the roots `schema/__init__.py` composes."""

from strawberry.tools import merge_types

from schema.study.progress import ProgressMutation, ProgressQuery
from schema.study.subjects import SubjectsMutation, SubjectsQuery

StudyQuery = merge_types("StudyQuery", (SubjectsQuery, ProgressQuery))
StudyMutation = merge_types("StudyMutation", (SubjectsMutation, ProgressMutation))

__all__ = ["StudyMutation", "StudyQuery"]
