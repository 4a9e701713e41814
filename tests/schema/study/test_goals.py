"""Study goals: windows in the user's time zone, progress over recorded activity, and their states."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.db import read_session, transaction
from models.study import ActivityKind, GoalKind, StudyGoal
from resolvers.study import goals
from tests.helpers.client import error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import Account, make_account
from tests.helpers.study import actor, make_subject, notifications_of, record, set_timezone

FIELDS = (
    "id kind status subject { id name } targetSummaries targetQuizzes targetMinutes progress startsOn endsOn"
)
CREATE = f"mutation($input: StudyGoalInput!) {{ createStudyGoal(input: $input) {{ {FIELDS} }} }}"
UPDATE = f"""mutation($id: ID!, $input: StudyGoalInput!) {{
  updateStudyGoal(id: $id, input: $input) {{ {FIELDS} }} }}"""
ABANDON = f"mutation($id: ID!) {{ abandonStudyGoal(id: $id) {{ {FIELDS} }} }}"
GOALS = f"query($status: GoalStatus) {{ studyGoals(status: $status) {{ {FIELDS} }} }}"

SUMMARY, QUIZ, TIME = ActivityKind.SUMMARY_READ, ActivityKind.QUIZ_ANSWERED, ActivityKind.STUDY_TIME
# Monday 9 March 2026, 15:10 UTC: already Tuesday 10 March, 00:10, in Seoul.
AFTER_SEOUL_MIDNIGHT = datetime(2026, 3, 9, 15, 10, tzinfo=UTC)


async def create(account: Account, draft: goals.GoalDraft, now: datetime) -> goals.GoalView:
    async with transaction() as db:
        return await goals.create_goal(db, actor(account), draft, now=now)


async def stored_goals() -> list[tuple[Any, ...]]:
    async with read_session() as db:
        rows = (await db.execute(select(StudyGoal))).scalars()
        return sorted(
            (
                str(row.id),
                row.status.value,
                row.target_summaries,
                row.target_quizzes,
                row.target_minutes,
                row.starts_on,
                row.ends_on,
            )
            for row in rows
        )


async def goal_of(gql, account: Account, goal_id: str) -> dict[str, Any]:
    listed = (await gql.data(GOALS, token=account.token))["studyGoals"]
    return next(goal for goal in listed if goal["id"] == goal_id)


@pytest.mark.parametrize(
    ("kind", "starts_on", "ends_on"),
    [
        (GoalKind.DAILY, date(2026, 3, 10), date(2026, 3, 10)),
        (GoalKind.WEEKLY, date(2026, 3, 9), date(2026, 3, 15)),
        (GoalKind.MONTHLY, date(2026, 3, 1), date(2026, 3, 31)),
    ],
)
async def test_a_periodic_goal_defaults_to_the_current_period_in_the_users_time_zone(
    kind: GoalKind, starts_on: date, ends_on: date
) -> None:
    # Given a student in Seoul, just after midnight on Tuesday 10 March (still Monday in UTC)
    student = await make_account()
    await set_timezone(student, "Asia/Seoul")
    # When they create a goal without dates
    view = await create(student, goals.GoalDraft(kind=kind, target_summaries=3), AFTER_SEOUL_MIDNIGHT)
    # Then it covers Seoul's day, ISO week (Monday to Sunday) or month
    assert (view.goal.starts_on, view.goal.ends_on) == (starts_on, ends_on)


async def test_a_periodic_goal_starting_later_covers_the_period_holding_its_start() -> None:
    student = await make_account()

    view = await create(
        student,
        goals.GoalDraft(kind=GoalKind.WEEKLY, target_summaries=3, starts_on=date(2026, 3, 18)),
        AFTER_SEOUL_MIDNIGHT,
    )

    assert (view.goal.starts_on, view.goal.ends_on) == (date(2026, 3, 18), date(2026, 3, 22))


async def test_a_new_goal_through_the_api_is_active_with_no_progress(gql) -> None:
    subject = await make_subject("Chemistry")
    student = await make_account()
    today = datetime.now(UTC).date().isoformat()

    data = await gql.data(
        CREATE,
        {"input": {"kind": "DAILY", "subjectId": str(subject.id), "targetQuizzes": 5}},
        token=student.token,
    )

    goal = data["createStudyGoal"]
    assert goal == {
        "id": goal["id"],
        "kind": "DAILY",
        "status": "ACTIVE",
        "subject": {"id": str(subject.id), "name": "Chemistry"},
        "targetSummaries": None,
        "targetQuizzes": 5,
        "targetMinutes": None,
        "progress": 0.0,
        "startsOn": today,
        "endsOn": today,
    }
    assert await goal_of(gql, student, goal["id"]) == goal


async def test_progress_is_the_mean_of_the_set_targets_over_activity_in_the_window(gql) -> None:
    # Given a Seoul student's goal for Tuesday 10 March (Seoul time): 2 summaries and 60 minutes
    chemistry, physics = await make_subject("Chemistry"), await make_subject("Physics")
    student = await make_account()
    await set_timezone(student, "Asia/Seoul")
    draft = goals.GoalDraft(
        kind=GoalKind.DAILY, subject_id=chemistry.id, target_summaries=2, target_minutes=60
    )
    view = await create(student, draft, AFTER_SEOUL_MIDNIGHT)
    # When they read one chemistry summary and study 90 minutes that day, answer quizzes (no target),
    # and read summaries on Monday evening in Seoul (the same UTC day) and in physics
    await record(student, chemistry, SUMMARY, AFTER_SEOUL_MIDNIGHT)
    await record(student, chemistry, TIME, AFTER_SEOUL_MIDNIGHT + timedelta(hours=5), minutes=90)
    await record(student, chemistry, QUIZ, AFTER_SEOUL_MIDNIGHT, topic="acids", score=1.0)
    await record(student, chemistry, SUMMARY, AFTER_SEOUL_MIDNIGHT - timedelta(minutes=20))
    await record(student, physics, SUMMARY, AFTER_SEOUL_MIDNIGHT)
    # Then its progress is (1/2 + 1) / 2
    goal = await goal_of(gql, student, str(view.goal.id))
    assert (goal["status"], goal["progress"]) == ("ACTIVE", pytest.approx(0.75))


async def test_a_goal_without_subject_counts_every_subject(gql) -> None:
    chemistry, physics = await make_subject("Chemistry"), await make_subject("Physics")
    student = await make_account()
    view = await create(
        student, goals.GoalDraft(kind=GoalKind.WEEKLY, target_summaries=4), AFTER_SEOUL_MIDNIGHT
    )

    await record(student, chemistry, SUMMARY, AFTER_SEOUL_MIDNIGHT)
    await record(student, physics, SUMMARY, AFTER_SEOUL_MIDNIGHT)

    goal = await goal_of(gql, student, str(view.goal.id))
    assert (goal["subject"], goal["progress"]) == (None, pytest.approx(0.5))


async def test_reaching_the_target_achieves_the_goal_and_notifies_once(gql) -> None:
    # Given a student's daily goal of two summaries, and another student's identical goal
    subject = await make_subject()
    student, other = await make_account(), await make_account()
    goal_input = {"input": {"kind": "DAILY", "targetSummaries": 2}}
    goal_id = (await gql.data(CREATE, goal_input, token=student.token))["createStudyGoal"]["id"]
    await gql.data(CREATE, goal_input, token=other.token)
    # When the student reads one summary, the goal is half way
    await record(student, subject, SUMMARY, datetime.now(UTC))
    assert (await goal_of(gql, student, goal_id))["status"] == "ACTIVE"
    assert await notifications_of(student) == []
    # And when they read a second (and a third), it is achieved, with one in-app notification
    await record(student, subject, SUMMARY, datetime.now(UTC))
    await record(student, subject, SUMMARY, datetime.now(UTC))
    goal = await goal_of(gql, student, goal_id)
    assert (goal["status"], goal["progress"]) == ("ACHIEVED", 1.0)
    assert await notifications_of(student) == [("goal_achieved", f"goal_achieved:{goal_id}")]
    # And the other student's goal is untouched
    assert [g["status"] for g in (await gql.data(GOALS, token=other.token))["studyGoals"]] == ["ACTIVE"]
    assert await notifications_of(other) == []


async def test_a_goal_already_reached_when_created_is_achieved_at_once(gql) -> None:
    subject = await make_subject()
    student = await make_account()
    await record(student, subject, TIME, datetime.now(UTC), minutes=30)

    data = await gql.data(CREATE, {"input": {"kind": "DAILY", "targetMinutes": 30}}, token=student.token)

    goal = data["createStudyGoal"]
    assert (goal["status"], goal["progress"]) == ("ACHIEVED", 1.0)
    assert await notifications_of(student) == [("goal_achieved", f"goal_achieved:{goal['id']}")]


@pytest.mark.parametrize(
    ("goal_input", "field"),
    [
        ({"kind": "DAILY", "targetSummaries": 0}, "targetSummaries"),
        ({"kind": "DAILY", "targetSummaries": -3}, "targetSummaries"),
        ({"kind": "DAILY", "targetSummaries": 2, "targetQuizzes": -1}, "targetQuizzes"),
        ({"kind": "DAILY", "targetMinutes": 0}, "targetMinutes"),
        ({"kind": "DAILY", "targetMinutes": 100_001}, "targetMinutes"),
        ({"kind": "DAILY"}, "targetSummaries"),
        ({"kind": "CUSTOM", "targetSummaries": 1, "endsOn": "2999-01-10"}, "startsOn"),
        ({"kind": "CUSTOM", "targetSummaries": 1, "startsOn": "2999-01-10"}, "endsOn"),
        (
            {"kind": "CUSTOM", "targetSummaries": 1, "startsOn": "2999-01-10", "endsOn": "2999-01-09"},
            "endsOn",
        ),
        (
            {"kind": "WEEKLY", "targetSummaries": 1, "startsOn": "2999-01-10", "endsOn": "2999-01-09"},
            "endsOn",
        ),
        (
            {"kind": "CUSTOM", "targetSummaries": 1, "startsOn": "2000-01-01", "endsOn": "2000-01-09"},
            "endsOn",
        ),
        (
            {"kind": "CUSTOM", "targetSummaries": 1, "startsOn": "2999-01-01", "endsOn": "3000-01-02"},
            "endsOn",
        ),
        ({"kind": "DAILY", "targetSummaries": 1, "subjectId": str(uuid.uuid4())}, "subjectId"),
        ({"kind": "DAILY", "targetSummaries": 1, "subjectId": "not-an-id"}, "subjectId"),
    ],
)
async def test_bad_goals_name_the_field_and_write_nothing(
    gql, goal_input: dict[str, Any], field: str
) -> None:
    # Given a student with one goal
    student = await make_account()
    existing = (
        await gql.data(CREATE, {"input": {"kind": "WEEKLY", "targetSummaries": 3}}, token=student.token)
    )["createStudyGoal"]
    before = await stored_goals()
    # When they create a bad goal, or update theirs with the same input
    created = await gql.error(CREATE, {"input": goal_input}, token=student.token)
    updated = await gql.error(UPDATE, {"id": existing["id"], "input": goal_input}, token=student.token)
    # Then both name the field, and nothing changed
    for error in (created, updated):
        assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await stored_goals() == before


async def test_an_update_redefines_an_active_goal(gql) -> None:
    subject = await make_subject()
    student = await make_account()
    goal = (await gql.data(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 4}}, token=student.token))[
        "createStudyGoal"
    ]
    await record(student, subject, QUIZ, datetime.now(UTC), topic="acids", score=1.0)

    data = await gql.data(
        UPDATE,
        {
            "id": goal["id"],
            "input": {"kind": "CUSTOM", "targetQuizzes": 2, "startsOn": "2999-01-01", "endsOn": "2999-01-31"},
        },
        token=student.token,
    )

    updated = data["updateStudyGoal"]
    assert (updated["id"], updated["kind"], updated["targetSummaries"], updated["targetQuizzes"]) == (
        goal["id"],
        "CUSTOM",
        None,
        2,
    )
    assert (updated["startsOn"], updated["endsOn"], updated["progress"]) == ("2999-01-01", "2999-01-31", 0.0)


async def test_an_update_that_reaches_the_target_achieves_the_goal(gql) -> None:
    subject = await make_subject()
    student = await make_account()
    goal = (await gql.data(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 4}}, token=student.token))[
        "createStudyGoal"
    ]
    await record(student, subject, SUMMARY, datetime.now(UTC))

    data = await gql.data(
        UPDATE, {"id": goal["id"], "input": {"kind": "DAILY", "targetSummaries": 1}}, token=student.token
    )

    assert (data["updateStudyGoal"]["status"], data["updateStudyGoal"]["progress"]) == ("ACHIEVED", 1.0)
    assert await notifications_of(student) == [("goal_achieved", f"goal_achieved:{goal['id']}")]


async def test_abandoning_closes_the_goal_and_a_closed_goal_cannot_change(gql) -> None:
    # Given an abandoned goal
    student = await make_account()
    goal = (await gql.data(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 1}}, token=student.token))[
        "createStudyGoal"
    ]
    abandoned = (await gql.data(ABANDON, {"id": goal["id"]}, token=student.token))["abandonStudyGoal"]
    assert abandoned["status"] == "ABANDONED"
    before = await stored_goals()
    # When the student abandons or updates it again
    again = await gql.error(ABANDON, {"id": goal["id"]}, token=student.token)
    update = await gql.error(
        UPDATE, {"id": goal["id"], "input": {"kind": "DAILY", "targetSummaries": 5}}, token=student.token
    )
    # Then both are conflicts and nothing changed
    assert (error_code(again), error_code(update)) == ("CONFLICT", "CONFLICT")
    assert await stored_goals() == before


async def test_an_achieved_goal_cannot_be_abandoned(gql) -> None:
    subject = await make_subject()
    student = await make_account()
    goal = (await gql.data(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 1}}, token=student.token))[
        "createStudyGoal"
    ]
    await record(student, subject, SUMMARY, datetime.now(UTC))

    error = await gql.error(ABANDON, {"id": goal["id"]}, token=student.token)

    assert error_code(error) == "CONFLICT"
    assert (await goal_of(gql, student, goal["id"]))["status"] == "ACHIEVED"


async def test_others_goals_are_not_found_and_not_listed(gql) -> None:
    # Given a student's goal
    owner, other = await make_account(), await make_account()
    goal = (await gql.data(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 2}}, token=owner.token))[
        "createStudyGoal"
    ]
    before = await stored_goals()
    # When another student tries to update or abandon it, or lists their goals
    update = await gql.error(
        UPDATE, {"id": goal["id"], "input": {"kind": "DAILY", "targetSummaries": 1}}, token=other.token
    )
    abandon = await gql.error(ABANDON, {"id": goal["id"]}, token=other.token)
    listed = (await gql.data(GOALS, token=other.token))["studyGoals"]
    # Then it does not exist for them, and nothing changed
    assert (error_code(update), error_code(abandon), listed) == ("NOT_FOUND", "NOT_FOUND", [])
    assert await stored_goals() == before
    for goal_id in (str(uuid.uuid4()), "not-an-id"):
        assert error_code(await gql.error(ABANDON, {"id": goal_id}, token=other.token)) == "NOT_FOUND"


async def test_anonymous_users_have_no_goals(gql) -> None:
    listed = await gql.error(GOALS)
    created = await gql.error(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 1}})

    assert (error_code(listed), error_code(created)) == ("UNAUTHENTICATED", "UNAUTHENTICATED")
    assert await stored_goals() == []


async def test_goals_are_listed_by_status_newest_window_first(gql) -> None:
    student = await make_account()
    daily = (await gql.data(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 1}}, token=student.token))[
        "createStudyGoal"
    ]
    later = {"kind": "CUSTOM", "targetSummaries": 1, "startsOn": "2999-01-01", "endsOn": "2999-01-02"}
    custom = (await gql.data(CREATE, {"input": later}, token=student.token))["createStudyGoal"]
    await gql.data(ABANDON, {"id": daily["id"]}, token=student.token)

    every = (await gql.data(GOALS, token=student.token))["studyGoals"]
    active = (await gql.data(GOALS, {"status": "ACTIVE"}, token=student.token))["studyGoals"]
    abandoned = (await gql.data(GOALS, {"status": "ABANDONED"}, token=student.token))["studyGoals"]

    assert [g["id"] for g in every] == [custom["id"], daily["id"]]
    assert [g["id"] for g in active] == [custom["id"]]
    assert [g["id"] for g in abandoned] == [daily["id"]]


async def test_listing_goals_costs_one_statement_however_many(gql) -> None:
    # Given a student with one goal, and another with six goals over two subjects and some activity
    chemistry, physics = await make_subject("Chemistry"), await make_subject("Physics")
    light, heavy = await make_account(), await make_account()
    await gql.data(CREATE, {"input": {"kind": "DAILY", "targetSummaries": 5}}, token=light.token)
    for subject in (chemistry, physics, None):
        for kind in ("DAILY", "WEEKLY"):
            goal_input = {"kind": kind, "targetSummaries": 5, "targetMinutes": 60}
            if subject is not None:
                goal_input["subjectId"] = str(subject.id)
            await gql.data(CREATE, {"input": goal_input}, token=heavy.token)
    await record(heavy, chemistry, SUMMARY, datetime.now(UTC))
    await record(heavy, physics, TIME, datetime.now(UTC), minutes=30)
    # When each lists their goals
    with count_queries() as few:
        one = (await gql.data(GOALS, token=light.token))["studyGoals"]
    with count_queries() as many:
        six = (await gql.data(GOALS, token=heavy.token))["studyGoals"]
    # Then both lists, subjects and progress included, cost one statement
    assert (len(one), len(six)) == (1, 6)
    assert sorted(goal["progress"] for goal in six) == pytest.approx([0.1, 0.1, 0.25, 0.25, 0.35, 0.35])
    assert (len(few), len(many)) == (1, 1)
