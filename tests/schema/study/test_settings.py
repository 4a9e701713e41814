"""Study settings: the defaults until a user saves some, then per user and subject, field by field."""

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from core.auth import Role, UserActor
from core.db import read_session, transaction
from models.study import Difficulty, StudySettings, Subject, SummaryLength
from resolvers.study import subjects
from tests.helpers.client import error_code
from tests.helpers.factories import Account, make_account

FIELDS = "id subject { id name defaultDifficulty } difficulty dailyGoalMinutes summaryLength language saved"
SETTINGS = f"query($subjectId: ID!) {{ studySettings(subjectId: $subjectId) {{ {FIELDS} }} }}"
UPDATE = f"""
mutation($subjectId: ID!, $input: StudySettingsInput!) {{
  updateStudySettings(subjectId: $subjectId, input: $input) {{ {FIELDS} }} }}"""
SET_LANGUAGE = "mutation($language: String!) { updateProfile(input: {language: $language}) { id } }"


async def make_subject(name: str = "Chemistry", difficulty: Difficulty = Difficulty.HARD) -> Subject:
    draft = subjects.SubjectDraft(name=name, category="Science", default_difficulty=difficulty)
    async with transaction() as db:
        return await subjects.create_subject(db, UserActor(uuid.uuid4(), Role.ADMIN), draft)


async def stored_settings() -> list[tuple[uuid.UUID, uuid.UUID, Difficulty, int, SummaryLength, str]]:
    async with read_session() as db:
        rows = (await db.execute(select(StudySettings))).scalars()
        return sorted(
            (
                row.user_id,
                row.subject_id,
                row.difficulty,
                row.daily_goal_minutes,
                row.summary_length,
                row.language,
            )
            for row in rows
        )


async def settings_of(gql, account: Account, subject: Subject) -> dict[str, Any]:
    data = await gql.data(SETTINGS, {"subjectId": str(subject.id)}, token=account.token)
    settings: dict[str, Any] = data["studySettings"]
    return settings


async def test_without_saved_settings_the_defaults_are_answered_and_not_written(gql) -> None:
    # Given a HARD subject and a student whose profile language is en-US
    subject = await make_subject(difficulty=Difficulty.HARD)
    student = await make_account()
    await gql.data(SET_LANGUAGE, {"language": "en-US"}, token=student.token)
    # When the student reads their settings for the subject
    settings = await settings_of(gql, student, subject)
    # Then they are the subject's difficulty, 30 minutes, MEDIUM summaries and the profile's language
    assert settings == {
        "id": f"{subject.id}:{student.id}",
        "subject": {"id": str(subject.id), "name": "Chemistry", "defaultDifficulty": "HARD"},
        "difficulty": "HARD",
        "dailyGoalMinutes": 30,
        "summaryLength": "MEDIUM",
        "language": "en-US",
        "saved": False,
    }
    # And nothing was written
    assert await stored_settings() == []


async def test_saving_one_field_keeps_the_defaults_for_the_others(gql) -> None:
    # Given a student (language ko) and an EASY subject
    subject = await make_subject(difficulty=Difficulty.EASY)
    student = await make_account()
    # When they save a daily goal of 45 minutes
    data = await gql.data(
        UPDATE, {"subjectId": str(subject.id), "input": {"dailyGoalMinutes": 45}}, token=student.token
    )
    # Then the goal is saved with the defaults beside it
    expected = {
        "id": f"{subject.id}:{student.id}",
        "subject": {"id": str(subject.id), "name": "Chemistry", "defaultDifficulty": "EASY"},
        "difficulty": "EASY",
        "dailyGoalMinutes": 45,
        "summaryLength": "MEDIUM",
        "language": "ko",
        "saved": True,
    }
    assert data["updateStudySettings"] == expected
    assert await settings_of(gql, student, subject) == expected
    assert await stored_settings() == [
        (student.user.id, subject.id, Difficulty.EASY, 45, SummaryLength.MEDIUM, "ko")
    ]


async def test_a_second_update_changes_only_its_fields(gql) -> None:
    # Given saved settings
    subject = await make_subject()
    student = await make_account()
    await gql.data(
        UPDATE,
        {"subjectId": str(subject.id), "input": {"dailyGoalMinutes": 45, "difficulty": "EASY"}},
        token=student.token,
    )
    # When the student changes the summary length and language
    data = await gql.data(
        UPDATE,
        {"subjectId": str(subject.id), "input": {"summaryLength": "LONG", "language": " en-GB "}},
        token=student.token,
    )
    # Then those change, the earlier choices stay, and there is still one row
    settings = data["updateStudySettings"]
    assert (settings["difficulty"], settings["dailyGoalMinutes"], settings["summaryLength"]) == (
        "EASY",
        45,
        "LONG",
    )
    assert settings["language"] == "en-GB"
    assert await stored_settings() == [
        (student.user.id, subject.id, Difficulty.EASY, 45, SummaryLength.LONG, "en-GB")
    ]


async def test_settings_belong_to_one_user_and_one_subject(gql) -> None:
    # Given two subjects and two students, one of whom saved settings for the first subject
    chemistry = await make_subject("Chemistry", Difficulty.HARD)
    physics = await make_subject("Physics", Difficulty.EASY)
    saver, other = await make_account(), await make_account()
    await gql.data(
        UPDATE, {"subjectId": str(chemistry.id), "input": {"dailyGoalMinutes": 90}}, token=saver.token
    )
    # Then the other student and the other subject still answer the defaults
    assert (await settings_of(gql, other, chemistry))["dailyGoalMinutes"] == 30
    assert (await settings_of(gql, saver, physics))["dailyGoalMinutes"] == 30
    assert (await settings_of(gql, saver, chemistry))["dailyGoalMinutes"] == 90


async def test_an_empty_update_saves_the_current_values(gql) -> None:
    subject = await make_subject(difficulty=Difficulty.MEDIUM)
    student = await make_account()

    data = await gql.data(UPDATE, {"subjectId": str(subject.id), "input": {}}, token=student.token)

    assert (data["updateStudySettings"]["saved"], data["updateStudySettings"]["dailyGoalMinutes"]) == (
        True,
        30,
    )
    assert len(await stored_settings()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dailyGoalMinutes": 4}, "dailyGoalMinutes"),
        ({"dailyGoalMinutes": 601}, "dailyGoalMinutes"),
        ({"dailyGoalMinutes": -30}, "dailyGoalMinutes"),
        ({"language": ""}, "language"),
        ({"language": "k"}, "language"),
        ({"language": "en_US"}, "language"),
        ({"language": "english please"}, "language"),
        ({"language": "k\u0000o"}, "language"),
        ({"language": "en-" + "x" * 20}, "language"),
    ],
)
async def test_bad_values_name_the_field_and_change_nothing(gql, change: dict[str, Any], field: str) -> None:
    # Given saved settings
    subject = await make_subject()
    student = await make_account()
    await gql.data(
        UPDATE, {"subjectId": str(subject.id), "input": {"dailyGoalMinutes": 45}}, token=student.token
    )
    before = await stored_settings()
    # When an update carries one bad value beside a good one
    error = await gql.error(
        UPDATE,
        {"subjectId": str(subject.id), "input": {"summaryLength": "LONG", **change}},
        token=student.token,
    )
    # Then the error names the field and nothing changed
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await stored_settings() == before


async def test_the_bounds_of_the_daily_goal_are_allowed(gql) -> None:
    subject = await make_subject()
    student = await make_account()

    for minutes in (5, 600):
        data = await gql.data(
            UPDATE,
            {"subjectId": str(subject.id), "input": {"dailyGoalMinutes": minutes}},
            token=student.token,
        )
        assert data["updateStudySettings"]["dailyGoalMinutes"] == minutes


async def test_an_unknown_subject_is_not_found_and_nothing_is_written(gql) -> None:
    student = await make_account()

    for subject_id in (str(uuid.uuid4()), "not-an-id"):
        read = await gql.error(SETTINGS, {"subjectId": subject_id}, token=student.token)
        update = await gql.error(
            UPDATE, {"subjectId": subject_id, "input": {"dailyGoalMinutes": 45}}, token=student.token
        )
        assert (error_code(read), error_code(update)) == ("NOT_FOUND", "NOT_FOUND")
    assert await stored_settings() == []


async def test_anonymous_users_have_no_settings(gql) -> None:
    subject = await make_subject()

    read = await gql.error(SETTINGS, {"subjectId": str(subject.id)})
    update = await gql.error(UPDATE, {"subjectId": str(subject.id), "input": {"dailyGoalMinutes": 45}})

    assert (error_code(read), error_code(update)) == ("UNAUTHENTICATED", "UNAUTHENTICATED")
    assert await stored_settings() == []
