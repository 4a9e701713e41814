"""convertRecordingToTask: the analysed steps become a task of the instructor's lecture, once."""

import uuid
from typing import Any

from sqlalchemy import func, select

from core.db import read_session
from models.classroom import Step, Task
from models.recordings import Recording
from tests.helpers.client import error_code
from tests.helpers.factories import Account
from tests.helpers.recordings import (
    PACKAGE,
    SEGMENTED,
    STOP,
    analysed,
    drain,
    instructor,
    recorded,
    start_recording,
)

__all__ = ["drain"]

CREATE_LECTURE = "mutation($input: LectureInput!) { createLecture(input: $input) { id } }"
CONVERT = """
mutation($id: ID!, $lectureId: ID!) {
  convertRecordingToTask(id: $id, lectureId: $lectureId) {
    id title lecture { id }
    steps { order title targetAction guideText voiceGuideText
            targetHint { viewId text packageName } }
  }
}"""
RECORDING_TASK = "query($id: ID!) { recording(id: $id) { task { id title } } }"


async def lecture_of(gql: Any, owner: Account) -> str:
    lecture_id: str = (await gql.data(CREATE_LECTURE, {"input": {"title": "Phones 101"}}, token=owner.token))[
        "createLecture"
    ]["id"]
    return lecture_id


async def tasks_and_steps() -> tuple[int, int]:
    async with read_session() as db:
        tasks = (await db.execute(select(func.count()).select_from(Task))).scalar_one()
        steps = (await db.execute(select(func.count()).select_from(Step))).scalar_one()
    return int(tasks), int(steps)


async def test_an_analysed_recording_becomes_a_task_of_the_lecture(gql, drain) -> None:
    # Given an analysed recording and a lecture of the same instructor
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    analysis = (await analysed(gql, owner, recording_id))["analysis"]
    lecture_id = await lecture_of(gql, owner)
    # When it is converted
    task = (await gql.data(CONVERT, {"id": recording_id, "lectureId": lecture_id}, token=owner.token))[
        "convertRecordingToTask"
    ]
    # Then the task carries the analysed steps, with guide texts and the recorded UI targets
    assert (task["title"], task["lecture"]) == ("Send a photo", {"id": lecture_id})
    assert [(s["order"], s["title"], s["targetAction"]) for s in task["steps"]] == [
        (order, title, action) for order, (action, title, _) in enumerate(SEGMENTED, 1)
    ]
    assert [(s["guideText"], s["voiceGuideText"]) for s in task["steps"]] == [
        (s["guideText"], s["voiceGuideText"]) for s in analysis
    ]
    assert task["steps"][1]["targetHint"] == {
        "viewId": f"{PACKAGE}:id/tab_chats",
        "text": "Chats",
        "packageName": PACKAGE,
    }
    linked = (await gql.data(RECORDING_TASK, {"id": recording_id}, token=owner.token))["recording"]["task"]
    assert linked == {"id": task["id"], "title": "Send a photo"}


async def test_converting_twice_is_a_conflict_and_creates_nothing_more(gql, drain) -> None:
    # Given a recording already converted
    owner = await instructor()
    recording_id, _ = await recorded(gql, owner)
    await analysed(gql, owner, recording_id)
    lecture_id = await lecture_of(gql, owner)
    await gql.data(CONVERT, {"id": recording_id, "lectureId": lecture_id}, token=owner.token)
    before = await tasks_and_steps()
    # When it is converted again
    error = await gql.error(CONVERT, {"id": recording_id, "lectureId": lecture_id}, token=owner.token)
    # Then it is a conflict and no task or step was added
    assert error_code(error) == "CONFLICT"
    assert await tasks_and_steps() == before == (1, len(SEGMENTED))


async def test_a_recording_not_analysed_cannot_be_converted(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    await gql.data(STOP, {"id": recording_id}, token=owner.token)
    lecture_id = await lecture_of(gql, owner)
    error = await gql.error(CONVERT, {"id": recording_id, "lectureId": lecture_id}, token=owner.token)
    assert error_code(error) == "CONFLICT"
    assert await tasks_and_steps() == (0, 0)


async def test_a_recording_cannot_go_into_another_instructors_lecture(gql, drain) -> None:
    # Given an analysed recording and a lecture of someone else
    owner, other = await instructor(), await instructor()
    recording_id, _ = await recorded(gql, owner)
    await analysed(gql, owner, recording_id)
    foreign_lecture = await lecture_of(gql, other)
    # When its owner converts it into that lecture
    error = await gql.error(CONVERT, {"id": recording_id, "lectureId": foreign_lecture}, token=owner.token)
    # Then it is refused and nothing changed
    assert error_code(error) == "FORBIDDEN"
    assert await tasks_and_steps() == (0, 0)
    async with read_session() as db:
        recording = await db.get(Recording, uuid.UUID(recording_id))
    assert recording is not None and recording.task_id is None
