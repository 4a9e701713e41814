"""The quizzes' schema: the catalogue and authoring, attempts, and quiz sessions."""

from strawberry.tools import merge_types

from schema.quizzes.attempts import AttemptsMutation, AttemptsQuery, AttemptsSubscription
from schema.quizzes.catalogue import CatalogueMutation, CatalogueQuery
from schema.quizzes.generation import GenerationMutation
from schema.quizzes.sessions import SessionsMutation, SessionsQuery

QuizzesQuery = merge_types("QuizzesQuery", (CatalogueQuery, SessionsQuery, AttemptsQuery))
QuizzesMutation = merge_types(
    "QuizzesMutation", (CatalogueMutation, SessionsMutation, AttemptsMutation, GenerationMutation)
)
QuizzesSubscription = AttemptsSubscription

__all__ = ["QuizzesMutation", "QuizzesQuery", "QuizzesSubscription"]
