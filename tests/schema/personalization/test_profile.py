"""`personalization`: nothing but the student's own evidence; level and mastery follow graded answers in
the answer's own transaction; an ADAPTIVE quiz session starts at the level once there is one."""

from datetime import UTC, datetime

from core.auth import Role
from models.study import ActivityKind
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import make_account
from tests.helpers.personalization import answer, make_subject, profile, true_false_quiz
from tests.helpers.quizzes import GRADE, START_SESSION, create_quiz, submit
from tests.helpers.study import record


async def test_without_evidence_the_style_is_mixed_with_no_confidence(gql: GraphQLClient) -> None:
    student = await make_account()

    assert await profile(gql, student) == {
        "learningStyle": "MIXED",
        "styleConfidence": 0.0,
        "evidenceCount": 0,
        "subjects": [],
    }


async def test_mastery_rises_with_right_answers_and_falls_with_wrong_ones(gql: GraphQLClient) -> None:
    # Given a student and six MEDIUM quizzes of one subject
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    quizzes = [await true_false_quiz(gql, author, subject, topic="Joseon") for _ in range(6)]
    # When they answer three right, then three wrong
    masteries = []
    for n, quiz_id in enumerate(quizzes):
        await answer(gql, student, quiz_id, right=n < 3)
        (level,) = (await profile(gql, student))["subjects"]
        masteries.append(level["mastery"])
    # Then mastery rose with each right answer and fell with each wrong one, over all six answers
    assert masteries[:3] == sorted(masteries[:3]) and masteries[0] > 0.5
    assert masteries[2:] == sorted(masteries[2:], reverse=True) and masteries[-1] < masteries[2]
    assert (level["subject"]["name"], level["answered"]) == ("Korean history", 6)
    # And the topic has its own estimate from the same answers
    (topic,) = level["topics"]
    assert (topic["topic"], topic["answered"]) == ("Joseon", 6)
    assert 0 < topic["mastery"] < 1


async def test_an_essay_waiting_for_its_grade_counts_only_once_graded(gql: GraphQLClient) -> None:
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    essay = await create_quiz(gql, author, subject, "ESSAY")
    attempt = await submit(gql, student, essay["id"], {"text": "For the common people to read."})
    assert (await profile(gql, student))["subjects"] == []

    await gql.data(GRADE, {"attemptId": attempt["attemptId"], "score": 1.0}, token=author.token)

    (level,) = (await profile(gql, student))["subjects"]
    assert level["answered"] == 1 and level["mastery"] > 0.5


async def test_reading_most_shows_a_reading_preference(gql: GraphQLClient) -> None:
    student = await make_account()
    subject = await make_subject("Biology", "Science")
    now = datetime(2026, 11, 29, 9, tzinfo=UTC)
    for _ in range(8):
        await record(student, subject, ActivityKind.SUMMARY_READ, now)
    await record(student, subject, ActivityKind.QUIZ_ANSWERED, now, score=1.0)
    await record(student, subject, ActivityKind.STUDY_TIME, now, minutes=30)

    result = await profile(gql, student)

    assert (result["learningStyle"], result["evidenceCount"]) == ("READING", 9)
    assert 0 < result["styleConfidence"] < 1


async def test_an_adaptive_session_starts_at_the_students_level(gql: GraphQLClient) -> None:
    # Given a student whose settings say EASY, who answered eight HARD quizzes right
    author, student = await make_account(Role.INSTRUCTOR), await make_account()
    subject = await make_subject("Korean history")
    settings = (
        "mutation($s: ID!) { updateStudySettings(subjectId: $s, input: { difficulty: EASY }) { difficulty } }"
    )
    await gql.data(settings, {"s": str(subject.id)}, token=student.token)
    start = {"subjectId": str(subject.id), "kind": "ADAPTIVE", "target": 5}
    before = (await gql.data(START_SESSION, start, token=student.token))["startQuizSession"]
    for _ in range(8):
        await answer(gql, student, await true_false_quiz(gql, author, subject, "HARD"), right=True)
    # When they start an ADAPTIVE session
    after = (await gql.data(START_SESSION, start, token=student.token))["startQuizSession"]
    # Then it starts at their level (HARD), where it started at their settings before any answer
    assert (before["currentDifficulty"], after["currentDifficulty"]) == ("EASY", "HARD")
    assert (await profile(gql, student))["subjects"][0]["level"] == "HARD"
