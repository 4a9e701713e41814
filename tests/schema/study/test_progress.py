"""Study progress: counts, correct rate, mastery and streaks, read from the recorded activity."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.db import read_session
from models.study import ActivityKind, StudyActivity
from resolvers.study.progress import MASTERY_DECAY, study_progress
from tests.helpers.client import error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import Account, make_account
from tests.helpers.study import actor, make_subject, record, set_timezone

PROGRESS = """
query($subjectId: ID!) { studyProgress(subjectId: $subjectId) {
  subject { id name } summariesRead quizzesAnswered correctRate masteryByTopic
  currentStreak longestStreak studyMinutes } }"""

SUMMARY, QUIZ, TIME = ActivityKind.SUMMARY_READ, ActivityKind.QUIZ_ANSWERED, ActivityKind.STUDY_TIME
# Monday 9 March 2026, 14:50 UTC: 23:50 that evening in Seoul (UTC+9, no daylight saving).
SEOUL_EVENING = datetime(2026, 3, 9, 14, 50, tzinfo=UTC)


async def streaks(account: Account, subject_id: uuid.UUID, now: datetime) -> tuple[int, int]:
    async with read_session() as db:
        view = await study_progress(db, actor(account), subject_id, now=now)
    return view.current_streak, view.longest_streak


async def activity_rows() -> int:
    async with read_session() as db:
        return (await db.execute(select(func.count()).select_from(StudyActivity))).scalar_one()


async def test_progress_counts_the_users_activity_in_the_subject(gql) -> None:
    # Given a student's activity in chemistry, and activity elsewhere that must not count
    chemistry, physics = await make_subject("Chemistry"), await make_subject("Physics")
    student, other = await make_account(), await make_account()
    now = datetime.now(UTC)
    await record(student, chemistry, SUMMARY, now)
    await record(student, chemistry, SUMMARY, now)
    for topic, score in (("acids", 1.0), ("acids", 0.0), ("bases", 0.5)):
        await record(student, chemistry, QUIZ, now, topic=topic, score=score)
    await record(student, chemistry, TIME, now, minutes=25)
    await record(student, chemistry, TIME, now, minutes=10)
    await record(student, physics, SUMMARY, now)
    await record(student, physics, QUIZ, now, topic="acids", score=0.0)
    await record(other, chemistry, QUIZ, now, topic="acids", score=0.0)
    # When the student reads their progress in chemistry
    data = await gql.data(PROGRESS, {"subjectId": str(chemistry.id)}, token=student.token)
    # Then only their chemistry activity counts
    progress = data["studyProgress"]
    mastery = progress.pop("masteryByTopic")
    assert progress == {
        "subject": {"id": str(chemistry.id), "name": "Chemistry"},
        "summariesRead": 2,
        "quizzesAnswered": 3,
        "correctRate": pytest.approx(0.5),
        "currentStreak": 1,
        "longestStreak": 1,
        "studyMinutes": 35,
    }
    assert mastery.keys() == {"acids", "bases"}
    assert mastery["bases"] == pytest.approx(0.5)


async def test_a_subject_without_activity_is_all_zeros(gql) -> None:
    subject = await make_subject("Chemistry")
    student = await make_account()

    data = await gql.data(PROGRESS, {"subjectId": str(subject.id)}, token=student.token)

    assert data["studyProgress"] == {
        "subject": {"id": str(subject.id), "name": "Chemistry"},
        "summariesRead": 0,
        "quizzesAnswered": 0,
        "correctRate": 0.0,
        "masteryByTopic": {},
        "currentStreak": 0,
        "longestStreak": 0,
        "studyMinutes": 0,
    }


async def test_recording_the_same_source_twice_counts_once(gql) -> None:
    subject = await make_subject()
    student = await make_account()
    summary_id = await record(student, subject, SUMMARY, datetime.now(UTC))

    await record(student, subject, SUMMARY, datetime.now(UTC), source_id=summary_id)

    data = await gql.data(PROGRESS, {"subjectId": str(subject.id)}, token=student.token)
    assert data["studyProgress"]["summariesRead"] == 1
    assert await activity_rows() == 1


async def test_mastery_weighs_recent_answers_most(gql) -> None:
    # Given a topic answered wrong, then right; another answered right, then wrong
    subject = await make_subject()
    student = await make_account()
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    for minute, (topic, score) in enumerate(
        [("acids", 0.0), ("acids", 1.0), ("bases", 1.0), ("bases", 0.0), (None, 1.0)]
    ):
        await record(student, subject, QUIZ, start + timedelta(minutes=minute), topic=topic, score=score)
    # When the student reads their progress
    data = await gql.data(PROGRESS, {"subjectId": str(subject.id)}, token=student.token)
    # Then the newest answer weighs 1 and the one before it MASTERY_DECAY; an answer without topic has none
    mastery = data["studyProgress"]["masteryByTopic"]
    assert mastery == {
        "acids": pytest.approx(1 / (1 + MASTERY_DECAY)),
        "bases": pytest.approx(MASTERY_DECAY / (1 + MASTERY_DECAY)),
    }
    assert data["studyProgress"]["correctRate"] == pytest.approx(0.6)


async def test_mastery_looks_at_the_last_twenty_answers_of_a_topic(gql) -> None:
    subject = await make_subject()
    student = await make_account()
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    scores = [0.0] + [1.0] * 20
    for minute, score in enumerate(scores):
        await record(student, subject, QUIZ, start + timedelta(minutes=minute), topic="acids", score=score)

    data = await gql.data(PROGRESS, {"subjectId": str(subject.id)}, token=student.token)

    assert data["studyProgress"]["masteryByTopic"] == {"acids": 1.0}


async def test_activity_either_side_of_seoul_midnight_makes_a_two_day_streak() -> None:
    # Given a student in Seoul who studied at 23:50 and again at 00:10 local time (14:50 and 15:10 UTC,
    # the same UTC day)
    subject = await make_subject()
    student = await make_account()
    await set_timezone(student, "Asia/Seoul")
    await record(student, subject, SUMMARY, SEOUL_EVENING)
    await record(student, subject, QUIZ, SEOUL_EVENING + timedelta(minutes=20), topic="acids", score=1.0)
    # When their streaks are read at noon the next day in Seoul
    noon_in_seoul = datetime(2026, 3, 10, 3, tzinfo=UTC)
    # Then it is two local days in a row
    assert await streaks(student, subject.id, noon_in_seoul) == (2, 2)


async def test_the_same_instants_are_one_day_for_a_user_in_utc() -> None:
    subject = await make_subject()
    student = await make_account()
    await record(student, subject, SUMMARY, SEOUL_EVENING)
    await record(student, subject, SUMMARY, SEOUL_EVENING + timedelta(minutes=20))

    assert await streaks(student, subject.id, datetime(2026, 3, 10, 3, tzinfo=UTC)) == (1, 1)


async def test_the_current_streak_lasts_until_a_whole_local_day_passes_without_activity() -> None:
    # Given a Seoul student active at 10:00 local on 2, 3 and 4 March, then 6 and 7 March
    subject = await make_subject()
    student = await make_account()
    await set_timezone(student, "Asia/Seoul")
    for day in (2, 3, 4, 6, 7):
        await record(student, subject, SUMMARY, datetime(2026, 3, day, 1, tzinfo=UTC))
    # Then the current streak is the run ending today or yesterday, in Seoul time
    assert await streaks(student, subject.id, datetime(2026, 3, 7, 5, tzinfo=UTC)) == (2, 3)
    # 8 March 23:59 in Seoul: yesterday had activity
    assert await streaks(student, subject.id, datetime(2026, 3, 8, 14, 59, tzinfo=UTC)) == (2, 3)
    # 9 March 00:01 in Seoul (still 8 March in UTC): all of 8 March passed without activity
    assert await streaks(student, subject.id, datetime(2026, 3, 8, 15, 1, tzinfo=UTC)) == (0, 3)


async def test_an_unknown_subject_is_not_found(gql) -> None:
    student = await make_account()

    for subject_id in (str(uuid.uuid4()), "not-an-id"):
        error = await gql.error(PROGRESS, {"subjectId": subject_id}, token=student.token)
        assert error_code(error) == "NOT_FOUND"


async def test_anonymous_users_have_no_progress(gql) -> None:
    subject = await make_subject()

    error = await gql.error(PROGRESS, {"subjectId": str(subject.id)})

    assert error_code(error) == "UNAUTHENTICATED"


async def test_progress_costs_two_statements_however_much_activity(gql) -> None:
    # Given a student with one activity, and another with forty, six hours apart, over eleven days
    subject = await make_subject()
    light, heavy = await make_account(), await make_account()
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    await record(light, subject, SUMMARY, start)
    for n in range(40):
        await record(heavy, subject, QUIZ, start + timedelta(hours=6 * n), topic=f"topic {n % 7}", score=1.0)
    # When each reads their progress
    with count_queries() as few:
        await gql.data(PROGRESS, {"subjectId": str(subject.id)}, token=light.token)
    with count_queries() as many:
        data = await gql.data(PROGRESS, {"subjectId": str(subject.id)}, token=heavy.token)
    # Then each costs the subject's lookup and one statement for everything else
    assert data["studyProgress"]["longestStreak"] == 11
    assert (len(few), len(many)) == (2, 2)


@pytest.mark.parametrize(
    ("kind", "score", "minutes"),
    [(QUIZ, None, 0), (QUIZ, 1.5, 0), (SUMMARY, 1.0, 0), (TIME, None, 0), (SUMMARY, None, 5)],
)
async def test_activity_out_of_shape_is_refused_and_not_recorded(
    kind: ActivityKind, score: float | None, minutes: int
) -> None:
    subject = await make_subject()
    student = await make_account()

    with pytest.raises(ValueError):
        await record(student, subject, kind, datetime.now(UTC), score=score, minutes=minutes)

    assert await activity_rows() == 0
