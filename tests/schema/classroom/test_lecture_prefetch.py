"""`lecture(id)` reads what the query selects below it on its own connection, and answers exactly as the
DataLoaders behind a list of lectures do."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from core.auth import Role
from core.db import engine, transaction
from resolvers import classroom
from tests.helpers.classroom import actor, make_lecture, make_task, task_steps
from tests.helpers.client import error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import make_account

TREE = """id title instructor { id name role } tasks { id title description
  steps { id order title targetAction guideText targetHint { viewId text } } }"""
ONE = f"query($id: ID!) {{ lecture(id: $id) {{ {TREE} }} }}"
MINE = f"{{ lectures(mine: true, first: 5) {{ edges {{ node {{ {TREE} }} }} }} }}"


@contextmanager
def counted_checkouts() -> Iterator[Counter[str]]:
    pool = engine().sync_engine.pool
    seen: Counter[str] = Counter()

    def checked_out(*_: object) -> None:
        seen["checkouts"] += 1

    event.listen(pool, "checkout", checked_out)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", checked_out)


async def test_a_lecture_tree_is_read_on_one_connection_and_matches_the_listed_one(gql) -> None:
    # Given a lecture of two tasks, of two and three steps
    instructor = await make_account(Role.INSTRUCTOR, name="Park Instructor")
    lecture = await make_lecture(instructor)
    await make_task(instructor, lecture, 2, title="Open the camera")
    await make_task(instructor, lecture, 3, title="Send the photo")
    # When it is read by id, with its instructor, tasks and steps
    with counted_checkouts() as seen:
        one = await gql.data(ONE, {"id": str(lecture.id)}, token=instructor.token)
    # Then one connection served the whole tree
    assert seen["checkouts"] == 1
    # And the tree is the one a list of lectures gives through its DataLoaders
    listed = await gql.data(MINE, token=instructor.token)
    assert one["lecture"] == listed["lectures"]["edges"][0]["node"]
    orders = [[step["order"] for step in task["steps"]] for task in one["lecture"]["tasks"]]
    assert orders == [[1, 2], [1, 2, 3]]
    assert one["lecture"]["instructor"]["name"] == "Park Instructor"


TASKS = [{"title": "Send a photo"}]
TASKS_WITH_STEPS = [{"title": "Send a photo", "steps": 3}]


@pytest.mark.parametrize(
    ("document", "tasks"),
    [
        ("query($id: ID!) { lecture(id: $id) { tasks { id title } } }", TASKS),
        (
            "query($id: ID!) { lecture(id: $id) { ... on Lecture { tasks { title steps { order } } } } }",
            TASKS_WITH_STEPS,
        ),
        (
            "query($id: ID!) { lecture(id: $id) { ...Tree } } fragment Tree on Lecture { tasks { title "
            "...Steps } } fragment Steps on Task { steps { order } }",
            TASKS_WITH_STEPS,
        ),
        ("query($id: ID!) { lecture(id: $id) { title } }", None),
    ],
)
async def test_only_what_is_selected_is_read_however_the_document_reaches_it(
    gql, document: str, tasks: list[dict[str, object]] | None
) -> None:
    instructor = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(instructor)
    await make_task(instructor, lecture, 3)
    with counted_checkouts() as seen:
        data = await gql.data(document, {"id": str(lecture.id)}, token=instructor.token)
    assert seen["checkouts"] == 1
    if tasks is None:
        assert "tasks" not in data["lecture"]
        return
    got = [
        {"title": task["title"], **({"steps": len(task["steps"])} if "steps" in task else {})}
        for task in data["lecture"]["tasks"]
    ]
    assert got == tasks


async def test_a_tree_read_in_one_statement_keeps_empty_tasks_and_leaves_removed_steps_out(gql) -> None:
    # Given a lecture whose first task lost all its steps, and whose second lost its middle one
    instructor = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(instructor)
    emptied = await make_task(instructor, lecture, 1, title="Emptied")
    thinned = await make_task(instructor, lecture, 3, title="Thinned")
    for task, position in ((emptied, 0), (thinned, 1)):
        async with transaction() as db:
            await classroom.remove_step(db, actor(instructor), (await task_steps(task.id))[position].id)
    # When the lecture is read with its tasks and their steps, and a lecture without tasks too
    empty = await make_lecture(instructor, title="Nothing yet")
    with count_queries() as statements:
        data = await gql.data(ONE, {"id": str(lecture.id)}, token=instructor.token)
    bare = await gql.data(ONE, {"id": str(empty.id)}, token=instructor.token)
    # Then one statement gave every task in order, the emptied one with no steps
    assert len(statements) == 1
    tasks = data["lecture"]["tasks"]
    assert [(task["title"], [step["order"] for step in task["steps"]]) for task in tasks] == [
        ("Emptied", []),
        ("Thinned", [1, 2]),
    ]
    assert bare["lecture"]["tasks"] == []
    assert bare["lecture"]["instructor"]["id"] == data["lecture"]["instructor"]["id"]


async def test_a_lecture_the_viewer_may_not_see_is_not_found_through_the_tree(gql) -> None:
    # Given an inactive lecture of another instructor
    owner = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(owner)
    await make_task(owner, lecture, 2)
    async with transaction() as db:
        await classroom.archive_lecture(db, actor(owner), lecture.id)
    stranger = await make_account(Role.STUDENT)
    # When a student asks for its tree, Then it is not found, as without the tree
    for document in (ONE, "query($id: ID!) { lecture(id: $id) { id } }"):
        body = await gql.execute(document, {"id": str(lecture.id)}, token=stranger.token)
        assert [error_code(error) for error in body["errors"]] == ["NOT_FOUND"]
