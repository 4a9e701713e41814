"""Answers per second through `studymate api`: `submitAnswer` for the objective quiz types.

Starts embedded Postgres, Redis and Kafka in a temporary directory (or uses DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS when set), migrates a fresh database and runs `studymate api`. Then:

1. statements: `--probe` answers one after another through the same app in this process (Starlette's
   ASGI interface, no network), counting the SQL statements the app sends per answer;
2. throughput: `--answers` answers from `--concurrency` clients over HTTP, each client a student of its
   own answering the quizzes (one of each objective type, right and wrong answers in turn) in a loop;
   prints answers/s and the p50/p95 latency.

    uv run python -m bench.quizzes --answers 3000 --concurrency 32
"""

import argparse
import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import event

from bench.harness import components, percentile, studymate, wait_until_healthy
from devstack.server import free_port

SUBMIT = """mutation($quizId: ID!, $answer: AnswerInput!) {
  submitAnswer(quizId: $quizId, answer: $answer) { attemptId score pointsEarned gradingStatus } }"""


async def _make_users(count: int) -> list[uuid.UUID]:
    """Users written directly (registration's Argon2 is not what this measures)."""
    from core.db import transaction
    from models.accounts import User

    users = [
        User(email=f"bench-{uuid.uuid4().hex[:10]}@example.com", password_hash="-", name="Bench")
        for _ in range(count)
    ]
    async with transaction() as db:
        db.add_all(users)
    return [user.id for user in users]


async def _make_quizzes(author_id: uuid.UUID) -> list[tuple[str, list[dict[str, Any]]]]:
    """One quiz of each objective type, each with a right and a wrong answer: [(quiz id, answers)]."""
    from core.auth import Role, UserActor
    from core.db import transaction
    from models.quizzes import KeyPair, QuizType
    from models.study import Difficulty
    from resolvers.quizzes import authoring
    from resolvers.study import subjects

    admin = UserActor(uuid.uuid4(), Role.ADMIN)
    author = UserActor(author_id, Role.INSTRUCTOR)
    async with transaction() as db:
        subject = await subjects.create_subject(
            db, admin, subjects.SubjectDraft(name=f"Bench {uuid.uuid4().hex[:6]}", category="Bench")
        )

    def draft(quiz_type: QuizType, question: str, **key: Any) -> authoring.QuizDraft:
        return authoring.QuizDraft(
            subject_id=subject.id, type=quiz_type, difficulty=Difficulty.MEDIUM, question=question, **key
        )

    pairs = [
        KeyPair(left=left, right=right)
        for left, right in [("사과", "apple"), ("포도", "grape"), ("배", "pear")]
    ]
    drafts = [
        draft(
            QuizType.MULTIPLE_CHOICE,
            "Korean cities?",
            choices=[
                authoring.ChoiceDraft("Seoul", True),
                authoring.ChoiceDraft("Tokyo", False),
                authoring.ChoiceDraft("Busan", True),
            ],
        ),
        draft(QuizType.TRUE_FALSE, "Hangul dates from the 15th century.", answer_boolean=True),
        draft(QuizType.SHORT_ANSWER, "The capital of Korea?", accepted_answers=["서울", "Seoul"]),
        draft(QuizType.FILL_BLANK, "___ created Hangul in ___.", blank_answers=[["Sejong"], ["1443"]]),
        draft(QuizType.MATCHING, "Match the fruit.", pairs=pairs),
    ]
    async with transaction() as db:
        made = [await authoring.create_quiz(db, author, quiz) for quiz in drafts]
    multiple_choice, true_false, short, blanks, matching = made
    choice_ids = [choice["id"] for choice in multiple_choice.key["choices"]]
    right_pairs = [{"left": pair.left, "right": pair.right} for pair in pairs]
    wrong_pairs = [{"left": "사과", "right": "grape"}, {"left": "포도", "right": "apple"}]
    return [
        (
            str(multiple_choice.id),
            [{"choiceIds": [choice_ids[0], choice_ids[2]]}, {"choiceIds": [choice_ids[1]]}],
        ),
        (str(true_false.id), [{"boolean": True}, {"boolean": False}]),
        (str(short.id), [{"text": "  SEOUL. "}, {"text": "Busan"}]),
        (str(blanks.id), [{"blanks": ["sejong", "1443"]}, {"blanks": ["Taejo", "1443"]}]),
        (str(matching.id), [{"pairs": right_pairs}, {"pairs": wrong_pairs}]),
    ]


def _answers(quizzes: list[tuple[str, list[dict[str, Any]]]]) -> Iterator[dict[str, Any]]:
    """The mutation's variables in a loop: every quiz, right then wrong answers."""
    variables = [
        {"quizId": quiz_id, "answer": answer}
        for answer_index in range(2)
        for quiz_id, answers in quizzes
        for answer in [answers[answer_index]]
    ]
    return itertools.cycle(variables)


async def _post(http: httpx.AsyncClient, token: str, variables: dict[str, Any]) -> None:
    response = await http.post(
        "/graphql",
        json={"query": SUBMIT, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])


async def _statements_per_answer(
    token: str, quizzes: list[tuple[str, list[dict[str, Any]]]], count: int
) -> float:
    """SQL statements the app sends per answer, over `count` answers through the app in this process."""
    from app import create_app
    from core.db import engine

    statements = 0

    def record(*_args: object) -> None:
        nonlocal statements
        statements += 1

    answers = _answers(quizzes)
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        await _post(http, token, next(answers))  # warm-up: first connection, caches
        event.listen(engine().sync_engine, "before_cursor_execute", record)
        try:
            for _ in range(count):
                await _post(http, token, next(answers))
        finally:
            event.remove(engine().sync_engine, "before_cursor_execute", record)
    return statements / count


async def _throughput(
    http: httpx.AsyncClient, tokens: list[str], quizzes: list[tuple[str, list[dict[str, Any]]]], total: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = iter(range(total))

    async def client(token: str) -> None:
        answers = _answers(quizzes)
        for _ in remaining:
            sent = time.perf_counter()
            await _post(http, token, next(answers))
            latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(client(token) for token in tokens))
    return time.perf_counter() - started, latencies


async def run(api_url: str, args: argparse.Namespace) -> None:
    from core.auth import Role, issue_access_token
    from core.db import dispose_engine

    await wait_until_healthy(api_url)
    try:
        [author, prober, *students] = await _make_users(args.concurrency + 2)
        quizzes = await _make_quizzes(author)
        probe_token, _ = issue_access_token(prober, Role.STUDENT)
        per_answer = await _statements_per_answer(probe_token, quizzes, args.probe)
        print(
            f"statements  {per_answer:.1f} SQL statements per answer (mean of {args.probe}, in-process app)"
        )
        tokens = [issue_access_token(student, Role.STUDENT)[0] for student in students]
        limits = httpx.Limits(
            max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2
        )
        async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60) as http:
            # Warm-up: every client's connection and the api's statement caches.
            await _throughput(http, tokens, quizzes, args.concurrency * 2)
            seconds, latencies = await _throughput(http, tokens, quizzes, args.answers)
        print(
            f"throughput  {len(latencies)} answers from {args.concurrency} concurrent clients: "
            f"{len(latencies) / seconds:.0f} answers/s, p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms"
        )
    finally:
        await dispose_engine()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--answers", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--probe", type=int, default=50, help="answers counted for statements per answer")
    parser.add_argument("--api-workers", type=int, default=1, help="api processes (uvicorn --workers)")
    args = parser.parse_args()
    os.environ["LOG_LEVEL"] = "WARNING"
    port = free_port()
    api = ["api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.api_workers)]
    with (
        components(database=f"studymate_bench_{uuid.uuid4().hex[:8]}") as tmp,
        studymate(api, tmp / "api.log"),
    ):
        asyncio.run(run(f"http://127.0.0.1:{port}", args))


if __name__ == "__main__":
    main()
