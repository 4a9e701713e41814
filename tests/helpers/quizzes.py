"""What the quiz tests share: a subject, quizzes of every type made through the api, and the operations."""

import uuid
from typing import Any

from core.auth import Role, UserActor
from core.db import transaction
from models.study import Difficulty, Subject
from resolvers.study import subjects
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account

QUIZ_FIELDS = """id type difficulty topic question choices { id text } blankCount matchLeft matchRight hints
points estimatedSeconds archived subject { id name }"""
RESULT_FIELDS = """id attemptId correct score pointsEarned explanation correctAnswer feedback gradingStatus
timeSpentSeconds quizSession { id answered correct status currentDifficulty }"""
SESSION_FIELDS = "id kind status currentDifficulty answered correct targetQuestions subject { id }"

CREATE_QUIZ = f"mutation($input: QuizInput!) {{ createQuiz(input: $input) {{ {QUIZ_FIELDS} }} }}"
UPDATE_QUIZ = (
    f"mutation($id: ID!, $input: QuizInput!) {{ updateQuiz(id: $id, input: $input) {{ {QUIZ_FIELDS} }} }}"
)
ARCHIVE_QUIZ = f"mutation($id: ID!) {{ archiveQuiz(id: $id) {{ {QUIZ_FIELDS} }} }}"
QUIZ = f"query($id: ID!) {{ quiz(id: $id) {{ {QUIZ_FIELDS} }} }}"
QUIZZES = f"""query($subjectId: ID, $difficulty: Difficulty, $type: QuizType, $first: Int, $after: String) {{
  quizzes(subjectId: $subjectId, difficulty: $difficulty, type: $type, first: $first, after: $after) {{
    edges {{ cursor node {{ {QUIZ_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
SUBMIT = f"""mutation($quizId: ID!, $answer: AnswerInput!, $sessionId: ID) {{
  submitAnswer(quizId: $quizId, answer: $answer, quizSessionId: $sessionId) {{ {RESULT_FIELDS} }} }}"""
GRADE = f"""mutation($attemptId: ID!, $score: Float!, $feedback: String) {{
  gradeAttempt(attemptId: $attemptId, score: $score, feedback: $feedback) {{ {RESULT_FIELDS} }} }}"""
ATTEMPT = f"query($id: ID!) {{ attempt(id: $id) {{ {RESULT_FIELDS} }} }}"
START_SESSION = f"""mutation($subjectId: ID!, $kind: QuizSessionKind!, $target: Int!) {{
  startQuizSession(subjectId: $subjectId, kind: $kind, targetQuestions: $target) {{ {SESSION_FIELDS} }} }}"""
NEXT_QUIZ = "query($id: ID!) { quizSession(id: $id) { id status nextQuiz { id difficulty type } } }"


async def make_subject(name: str = "Korean history", difficulty: Difficulty = Difficulty.MEDIUM) -> Subject:
    admin = UserActor(uuid.uuid4(), Role.ADMIN)
    draft = subjects.SubjectDraft(name=name, category="History", default_difficulty=difficulty)
    async with transaction() as db:
        return await subjects.create_subject(db, admin, draft)


def quiz_input(subject: Subject, quiz_type: str = "MULTIPLE_CHOICE", **fields: Any) -> dict[str, Any]:
    """A valid QuizInput of the type (with its answer key), the given fields over it."""
    keys: dict[str, dict[str, Any]] = {
        "MULTIPLE_CHOICE": {
            "question": "Which cities are in Korea?",
            "choices": [
                {"text": "Seoul", "correct": True},
                {"text": "Tokyo", "correct": False},
                {"text": "Busan", "correct": True},
                {"text": "Osaka", "correct": False},
            ],
        },
        "TRUE_FALSE": {"question": "Hangul was created in the 15th century.", "answerBoolean": True},
        "SHORT_ANSWER": {"question": "The capital of Korea?", "acceptedAnswers": ["서울", "Seoul"]},
        "FILL_BLANK": {
            "question": "___ created Hangul in ___.",
            "blankAnswers": [["Sejong", "King Sejong", "세종"], ["1443"]],
        },
        "MATCHING": {
            "question": "Match the words.",
            "pairs": [
                {"left": "사과", "right": "apple"},
                {"left": "바나나", "right": "banana"},
                {"left": "포도", "right": "grape"},
            ],
        },
        "ESSAY": {
            "question": "Why was Hangul created?",
            "rubric": "Names literacy for commoners; gives a reason.",
        },
    }
    values: dict[str, Any] = {
        "subjectId": str(subject.id),
        "type": quiz_type,
        "difficulty": "MEDIUM",
        "explanation": f"Explanation of the {quiz_type} quiz.",
        **keys[quiz_type],
    }
    return values | fields


async def create_quiz(
    gql: GraphQLClient, author: Account, subject: Subject, quiz_type: str = "MULTIPLE_CHOICE", **fields: Any
) -> dict[str, Any]:
    data = await gql.data(
        CREATE_QUIZ, {"input": quiz_input(subject, quiz_type, **fields)}, token=author.token
    )
    quiz: dict[str, Any] = data["createQuiz"]
    return quiz


def choice_ids(quiz: dict[str, Any], *texts: str) -> list[str]:
    by_text = {choice["text"]: choice["id"] for choice in quiz["choices"]}
    return [by_text[text] for text in texts]


async def submit(
    gql: GraphQLClient,
    student: Account,
    quiz_id: str,
    answer: dict[str, Any],
    session_id: str | None = None,
) -> dict[str, Any]:
    data = await gql.data(
        SUBMIT, {"quizId": quiz_id, "answer": answer, "sessionId": session_id}, token=student.token
    )
    result: dict[str, Any] = data["submitAnswer"]
    return result
