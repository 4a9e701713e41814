"""Lectures, tasks and steps: ownership, stable step ids, soft removal, ordering and N+1-free lists."""

import pytest
from sqlalchemy import func, select

from core.auth import Role
from core.db import read_session, transaction
from models.classroom import Lecture, Step, StepProgress, StepRevision
from resolvers import classroom
from tests.helpers.classroom import (
    actor,
    complete,
    join,
    make_classroom,
    make_lecture,
    make_task,
    step_draft,
    task_steps,
)
from tests.helpers.client import error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import make_account

CREATE_LECTURE = """
mutation($input: LectureInput!) { createLecture(input: $input) { id title description isActive
  instructor { id } enrolledCount tasks { id } } }"""
UPDATE_LECTURE = """
mutation($id: ID!, $input: LectureInput!) { updateLecture(id: $id, input: $input) { id title } }"""
CREATE_TASK = """
mutation($lectureId: ID!, $input: TaskInput!) { createTask(lectureId: $lectureId, input: $input) {
  id title lecture { id } steps { id order title guideText voiceGuideText targetAction
  targetHint { viewId text } } } }"""
UPDATE_STEP = """
mutation($id: ID!, $input: StepInput!) { updateStep(id: $id, input: $input) { id order title version } }"""
ADD_STEP = """
mutation($taskId: ID!, $input: StepInput!, $position: Int) {
  addStep(taskId: $taskId, input: $input, position: $position) { id order } }"""
REMOVE_STEP = "mutation($id: ID!) { removeStep(id: $id) }"
REORDER = """
mutation($taskId: ID!, $stepIds: [ID!]!) { reorderSteps(taskId: $taskId, stepIds: $stepIds) {
  steps { id order } } }"""
TASK_STEPS = "query($id: ID!) { task(id: $id) { steps { id order title } } }"
LECTURE = "query($id: ID!) { lecture(id: $id) { id title isActive enrolledCount } }"


def step_input(title: str) -> dict[str, object]:
    return {"title": title, "guideText": f"Guide for {title}"}


async def lecture_count() -> int:
    async with read_session() as db:
        return int(await db.scalar(select(func.count()).select_from(Lecture)) or 0)


async def test_instructor_creates_a_lecture_they_own(gql) -> None:
    # Given an instructor
    instructor = await make_account(Role.INSTRUCTOR)
    # When they create a lecture with padded text
    lecture = (
        await gql.data(
            CREATE_LECTURE,
            {"input": {"title": "  Video calls ", "description": "With family"}},
            token=instructor.token,
        )
    )["createLecture"]
    # Then it is theirs, active, and trimmed
    assert lecture["title"] == "Video calls"
    assert lecture["instructor"] == {"id": instructor.id}
    assert (lecture["isActive"], lecture["enrolledCount"], lecture["tasks"]) == (True, 0, [])


async def test_a_student_cannot_create_a_lecture(gql) -> None:
    student = await make_account(Role.STUDENT)
    error = await gql.error(CREATE_LECTURE, {"input": {"title": "Mine"}}, token=student.token)
    assert error_code(error) == "FORBIDDEN"
    assert await lecture_count() == 0


@pytest.mark.parametrize("title", ["Video\u0000calls", "Video\u0007calls", "Video\ncalls"])
async def test_a_title_with_a_control_character_is_bad_input_and_nothing_is_stored(gql, title: str) -> None:
    # Given an instructor
    instructor = await make_account(Role.INSTRUCTOR)
    # When they send a title holding NUL (which Postgres cannot store) or another control character
    error = await gql.error(CREATE_LECTURE, {"input": {"title": title}}, token=instructor.token)
    # Then it is refused as bad input naming the field, and no lecture exists
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "title")
    assert await lecture_count() == 0


async def test_only_the_owner_may_edit_a_lecture(gql) -> None:
    # Given a lecture and another instructor
    owner = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(owner, "Original")
    other = await make_account(Role.INSTRUCTOR)
    # When the other instructor edits it
    error = await gql.error(
        UPDATE_LECTURE, {"id": str(lecture.id), "input": {"title": "Hijacked"}}, token=other.token
    )
    # Then they are refused and the lecture is unchanged
    assert error_code(error) == "FORBIDDEN"
    assert (await gql.data(LECTURE, {"id": str(lecture.id)}))["lecture"]["title"] == "Original"
    # And the owner may edit it
    updated = await gql.data(
        UPDATE_LECTURE, {"id": str(lecture.id), "input": {"title": "Renamed"}}, token=owner.token
    )
    assert updated["updateLecture"]["title"] == "Renamed"


async def test_an_archived_lecture_is_hidden_from_everyone_but_its_owner(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(owner)
    student = await make_account()
    archived = await gql.data(
        "mutation($id: ID!) { archiveLecture(id: $id) { isActive } }",
        {"id": str(lecture.id)},
        token=owner.token,
    )
    assert archived["archiveLecture"] == {"isActive": False}
    error = await gql.error(LECTURE, {"id": str(lecture.id)}, token=student.token)
    assert error_code(error) == "NOT_FOUND"
    catalogue = await gql.data("{ lectures { edges { node { id } } } }", token=student.token)
    assert catalogue["lectures"]["edges"] == []
    mine = await gql.data("{ lectures(mine: true) { edges { node { id isActive } } } }", token=owner.token)
    assert mine["lectures"]["edges"] == [{"node": {"id": str(lecture.id), "isActive": False}}]


async def test_enrolling_twice_counts_once(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(owner)
    student = await make_account()
    enroll = "mutation($id: ID!) { enroll(lectureId: $id) { enrolledCount } }"
    await gql.data(enroll, {"id": str(lecture.id)}, token=student.token)
    again = await gql.data(enroll, {"id": str(lecture.id)}, token=student.token)
    assert again["enroll"] == {"enrolledCount": 1}


async def test_create_task_with_ordered_steps(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(owner)
    steps = [
        {
            "title": "Open camera",
            "guideText": "Tap the camera icon",
            "voiceGuideText": "Tap the camera",
            "targetAction": "CLICK",
            "targetHint": {"viewId": "camera", "text": "Camera"},
        },
        step_input("Take photo"),
    ]
    task = (
        await gql.data(
            CREATE_TASK,
            {"lectureId": str(lecture.id), "input": {"title": "Photo", "steps": steps}},
            token=owner.token,
        )
    )["createTask"]
    assert task["lecture"] == {"id": str(lecture.id)}
    assert [(s["order"], s["title"]) for s in task["steps"]] == [(1, "Open camera"), (2, "Take photo")]
    assert task["steps"][0]["targetHint"] == {"viewId": "camera", "text": "Camera"}
    assert task["steps"][0]["targetAction"] == "CLICK"
    assert task["steps"][1]["targetHint"] is None


async def test_a_step_with_an_empty_guide_text_writes_nothing(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(owner)
    steps = [step_input("Fine"), {"title": "Broken", "guideText": "   "}]
    error = await gql.error(
        CREATE_TASK,
        {"lectureId": str(lecture.id), "input": {"title": "T", "steps": steps}},
        token=owner.token,
    )
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "guideText")
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(Step)) == 0


async def test_another_instructor_cannot_add_tasks_or_steps(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(owner)
    task = await make_task(owner, lecture, 2)
    other = await make_account(Role.INSTRUCTOR)
    error = await gql.error(
        CREATE_TASK, {"lectureId": str(lecture.id), "input": {"title": "X"}}, token=other.token
    )
    assert error_code(error) == "FORBIDDEN"
    error = await gql.error(ADD_STEP, {"taskId": str(task.id), "input": step_input("X")}, token=other.token)
    assert error_code(error) == "FORBIDDEN"
    assert len(await task_steps(task.id)) == 2


async def test_editing_a_step_keeps_its_id_its_progress_and_the_old_version() -> None:
    # Given a started session where a participant completed step 1
    room = await make_classroom(steps=2, start=True)
    joined = await join(room)
    await complete(room, joined, room.steps[0])
    # When the instructor edits step 1
    async with transaction() as db:
        edited = await classroom.update_step(db, actor(room.instructor), room.steps[0].id, step_draft(9))
    # Then the step keeps its id, gains a version, and the old content and the progress remain
    assert (edited.id, edited.version, edited.title) == (room.steps[0].id, 2, "Step 9")
    async with read_session() as db:
        revisions = (await db.execute(select(StepRevision))).scalars().all()
        progress = (await db.execute(select(StepProgress))).scalars().all()
    assert [(r.step_id, r.version, r.title) for r in revisions] == [(room.steps[0].id, 1, "Step 1")]
    assert [(p.step_id, p.status) for p in progress] == [
        (room.steps[0].id, classroom.ProgressStatus.COMPLETED)
    ]


async def test_add_step_in_the_middle_keeps_order_dense(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    task = await make_task(owner, await make_lecture(owner), 3)
    added = (
        await gql.data(
            ADD_STEP,
            {"taskId": str(task.id), "input": step_input("Inserted"), "position": 2},
            token=owner.token,
        )
    )["addStep"]
    assert added["order"] == 2
    steps = (await gql.data(TASK_STEPS, {"id": str(task.id)}))["task"]["steps"]
    assert [(s["order"], s["title"]) for s in steps] == [
        (1, "Step 1"),
        (2, "Inserted"),
        (3, "Step 2"),
        (4, "Step 3"),
    ]


async def test_add_step_at_an_impossible_position_is_refused(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    task = await make_task(owner, await make_lecture(owner), 2)
    error = await gql.error(
        ADD_STEP, {"taskId": str(task.id), "input": step_input("X"), "position": 4}, token=owner.token
    )
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "position")
    assert len(await task_steps(task.id)) == 2


async def test_removing_a_step_is_soft_and_keeps_progress(gql) -> None:
    # Given a participant who worked on step 2 of a session now on step 3
    room = await make_classroom(steps=3, start=True)
    joined = await join(room)
    await complete(room, joined, room.steps[1])
    async with transaction() as db:
        await classroom.control(
            db,
            actor(room.instructor),
            room.session.id,
            classroom.Action.GO_TO_STEP,
            step_id=room.steps[2].id,
        )
    # When the instructor removes step 2
    assert (await gql.data(REMOVE_STEP, {"id": str(room.steps[1].id)}, token=room.instructor.token)) == {
        "removeStep": True
    }
    # Then the task shows two dense steps, and the progress still points at the kept step row
    steps = (await gql.data(TASK_STEPS, {"id": str(room.task.id)}))["task"]["steps"]
    assert [(s["order"], s["title"]) for s in steps] == [(1, "Step 1"), (2, "Step 3")]
    async with read_session() as db:
        removed = await db.get(Step, room.steps[1].id)
        progress = (await db.execute(select(StepProgress))).scalars().one()
    assert removed is not None and removed.removed_at is not None
    assert progress.step_id == removed.id


async def test_the_step_a_live_session_shows_cannot_be_removed(gql) -> None:
    room = await make_classroom(steps=2, start=True)
    error = await gql.error(REMOVE_STEP, {"id": str(room.steps[0].id)}, token=room.instructor.token)
    assert error_code(error) == "CONFLICT"
    assert len(await task_steps(room.task.id)) == 2


async def test_reorder_steps(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    task = await make_task(owner, await make_lecture(owner), 3)
    a, b, c = (str(s.id) for s in await task_steps(task.id))
    result = (await gql.data(REORDER, {"taskId": str(task.id), "stepIds": [c, a, b]}, token=owner.token))[
        "reorderSteps"
    ]
    assert result["steps"] == [{"id": c, "order": 1}, {"id": a, "order": 2}, {"id": b, "order": 3}]


async def test_reorder_that_is_not_a_permutation_changes_nothing(gql) -> None:
    owner = await make_account(Role.INSTRUCTOR)
    task = await make_task(owner, await make_lecture(owner), 3)
    a, b, c = (str(s.id) for s in await task_steps(task.id))
    error = await gql.error(REORDER, {"taskId": str(task.id), "stepIds": [c, a, a]}, token=owner.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "stepIds")
    assert [str(s.id) for s in await task_steps(task.id)] == [a, b, c]


LECTURE_LIST = """
{ lectures(first: 50) { edges { node { id title enrolledCount instructor { id name }
  tasks { id title lecture { id } steps { id order title targetHint { viewId } } } } } } }"""


async def test_lecture_list_statement_count_does_not_grow_with_the_list(gql) -> None:
    # Given one lecture with a task of steps
    owner = await make_account(Role.INSTRUCTOR)
    await make_task(owner, await make_lecture(owner), 2)
    with count_queries() as few:
        small = await gql.data(LECTURE_LIST)
    # When there are many lectures, each with several tasks of many steps
    for n in range(8):
        lecture = await make_lecture(owner, f"Lecture {n}")
        for _ in range(3):
            await make_task(owner, lecture, 6)
    with count_queries() as many:
        large = await gql.data(LECTURE_LIST)
    # Then the list is complete and costs the same number of statements
    assert len(small["lectures"]["edges"]) == 1
    assert len(large["lectures"]["edges"]) == 9
    assert (
        sum(len(t["steps"]) for e in large["lectures"]["edges"] for t in e["node"]["tasks"]) == 2 + 8 * 3 * 6
    )
    assert len(many) == len(few)
