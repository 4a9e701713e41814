"""What the quiz AI tests share: a fake LLM that grades essays honestly and writes quizzes, and the
operations that reach the AI."""

import json
from typing import Any

from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account
from workers import quiz_essays

# The honest grader's rubric: an essay that names this gets full marks, any other gets LOW_SCORE.
RUBRIC_WORD = "literacy"
LOW_SCORE = 0.2
GENERATE = """
mutation($subjectId: ID!, $count: Int!, $topic: String) {
  generateQuizzes(subjectId: $subjectId, count: $count, topic: $topic) {
    id kind status error requestedCount droppedCount droppedReasons } }"""
GENERATION_JOB = """
query($id: ID!) {
  aiJob(id: $id) { id kind status error requestedCount droppedCount droppedReasons
    quizzes { id type question choices { id text } subject { id } } } }"""
SPEND_ESSAY_CREDIT = (
    "mutation($key: String!) { spendCredit(kind: ESSAY_GRADING, idempotencyKey: $key) { remaining } }"
)


def delimited_essay(prompt: str) -> str:
    """The essay between the prompt's delimiters, decoded from its JSON string."""
    _, rest = prompt.split(quiz_essays.ESSAY_OPEN, 1)
    inside, _ = rest.split(quiz_essays.ESSAY_CLOSE, 1)
    essay: str = json.loads(inside.strip())
    return essay


# Quizzes the fake writes: three valid ones, then two that `createQuiz` refuses.
GENERATED: list[dict[str, Any]] = [
    {
        "type": "MULTIPLE_CHOICE",
        "question": "Which of these is a noble gas?",
        "choices": [{"text": "Neon", "correct": True}, {"text": "Iron", "correct": False}],
    },
    {"type": "TRUE_FALSE", "question": "Water boils at 100 °C at sea level.", "answer_boolean": True},
    {"type": "ESSAY", "question": "Why do metals conduct electricity?", "rubric": "Free electrons."},
    {
        "type": "MULTIPLE_CHOICE",
        "question": "A question with one choice only",
        "choices": [{"text": "Alone", "correct": True}],
    },
    {"type": "FILL_BLANK", "question": "No blanks here.", "blank_answers": [["x"]]},
]
ANSWER_FIELDS = ("choices", "answer_boolean", "accepted_answers", "blank_answers", "pairs", "rubric")


def _generated(quiz: dict[str, Any]) -> dict[str, Any]:
    """A quiz in the answer's strict shape: every field present, null where the type does not use it."""
    return {
        "difficulty": "EASY",
        "topic": "Chemistry basics",
        "explanation": "Because.",
        "hints": [],
        **{field: None for field in ANSWER_FIELDS},
        **quiz,
    }


def quiz_ai_answer(prompt: str) -> str:
    """An honest LLM. An essay prompt is graded by a rule that reads only the delimited essay (full
    marks for naming the rubric's word, whatever else the essay says); any other prompt is asked for
    quizzes, and gets GENERATED."""
    if quiz_essays.ESSAY_OPEN in prompt:
        essay = delimited_essay(prompt)
        score = 1.0 if RUBRIC_WORD in essay.lower() else LOW_SCORE
        return json.dumps({"score": score, "feedback": f"Graded {len(essay)} characters."})
    return json.dumps({"quizzes": [_generated(quiz) for quiz in GENERATED]})


async def generate(
    gql: GraphQLClient, account: Account, subject_id: str, count: int, topic: str | None = None
) -> dict[str, Any]:
    data = await gql.data(
        GENERATE, {"subjectId": subject_id, "count": count, "topic": topic}, token=account.token
    )
    job: dict[str, Any] = data["generateQuizzes"]
    return job
