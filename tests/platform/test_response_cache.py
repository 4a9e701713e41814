"""The response cache: repeated lecture-content queries skip execution, every write path invalidates them
before its response returns, and no answer is ever served to another caller."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import pytest

from core.auth import Role
from core.response_cache import store
from core.settings import get_settings
from tests.helpers.classroom import make_lecture, make_task
from tests.helpers.client import GraphQLClient, error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import Account, make_account
from tests.helpers.recordings import analysed, drain, recorded

__all__ = ["drain"]

TREE = """query Tree($id: ID!) { lecture(id: $id) { id title description isActive instructor { id }
  tasks { id title steps { id order title guideText targetHint { viewId } } } } }"""
CATALOGUE = "{ lectures(first: 50) { edges { node { id title } } } }"
MINE = "{ lectures(mine: true, first: 50) { edges { node { id title } } } }"
WITH_ENROLMENTS = "query($id: ID!) { lecture(id: $id) { id enrolledCount } }"


@pytest.fixture
async def cache_on(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setattr(get_settings(), "response_cache", True)
    store().clear()
    yield
    store().clear()


async def _run(
    gql: GraphQLClient, query: str, variables: dict[str, Any], token: str | None
) -> tuple[Any, int]:
    """The data of a query that must succeed, and how many SQL statements it cost."""
    with count_queries() as statements:
        data = await gql.data(query, variables, token=token)
    return data, len(statements)


class Tree(NamedTuple):
    lecture: str
    task: str
    steps: list[str]


async def _tree(gql: GraphQLClient, owner: Account) -> Tree:
    lecture = await make_lecture(owner)
    task = await make_task(owner, lecture, 3)
    data = await gql.data(TREE, {"id": str(lecture.id)}, token=owner.token)
    steps = [s["id"] for s in data["lecture"]["tasks"][0]["steps"]]
    return Tree(str(lecture.id), str(task.id), steps)


async def test_a_repeated_query_is_answered_without_running_it(gql, cache_on) -> None:
    # Given an instructor's lecture, read once
    owner = await make_account(Role.INSTRUCTOR)
    lecture_id = (await _tree(gql, owner)).lecture
    first, _ = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    # When the same caller asks the same query again
    second, statements = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    # Then the answer is the same and no SQL ran
    assert second == first
    assert statements == 0


async def test_the_cache_is_off_by_default(gql) -> None:
    # Given the default settings
    owner = await make_account(Role.INSTRUCTOR)
    lecture_id = (await _tree(gql, owner)).lecture
    # When the same query runs twice
    await _run(gql, TREE, {"id": lecture_id}, owner.token)
    _, statements = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    # Then it ran twice
    assert not get_settings().response_cache
    assert statements > 0


async def test_queries_reaching_beyond_lecture_content_always_run(gql, cache_on) -> None:
    # Given a lecture whose enrolment count was read once
    owner = await make_account(Role.INSTRUCTOR)
    lecture_id = (await _tree(gql, owner)).lecture
    await _run(gql, WITH_ENROLMENTS, {"id": lecture_id}, owner.token)
    # When it is read again
    data, statements = await _run(gql, WITH_ENROLMENTS, {"id": lecture_id}, owner.token)
    # Then it ran again (enrolments are not cached content)
    assert data == {"lecture": {"id": lecture_id, "enrolledCount": 0}}
    assert statements > 0


async def test_an_answer_is_never_served_to_another_caller(gql, cache_on) -> None:
    # Given an archived lecture its owner has read (only the owner may see it)
    owner = await make_account(Role.INSTRUCTOR)
    lecture_id = (await _tree(gql, owner)).lecture
    await gql.data(
        "mutation($id: ID!) { archiveLecture(id: $id) { id } }", {"id": lecture_id}, token=owner.token
    )
    seen, _ = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    assert seen["lecture"]["isActive"] is False
    # When another instructor and an anonymous caller ask the same query
    other = await make_account(Role.INSTRUCTOR)
    for token in (other.token, None):
        error = await gql.error(TREE, {"id": lecture_id}, token=token)
        # Then they are refused as if nothing were cached
        assert error_code(error) == "NOT_FOUND"
    # And each instructor's own list stays their own
    mine, _ = await _run(gql, MINE, {}, owner.token)
    theirs, _ = await _run(gql, MINE, {}, other.token)
    assert [e["node"]["id"] for e in mine["lectures"]["edges"]] == [lecture_id]
    assert theirs["lectures"]["edges"] == []


async def test_a_bad_token_is_refused_even_for_a_cached_query(gql, cache_on) -> None:
    # Given the catalogue, cached for anonymous callers
    owner = await make_account(Role.INSTRUCTOR)
    await _tree(gql, owner)
    await _run(gql, CATALOGUE, {}, None)
    # When a caller with a forged token asks for it
    error = await gql.error(CATALOGUE, token="not-a-token")
    # Then the token is refused
    assert error_code(error) == "UNAUTHENTICATED"


Write = Callable[[GraphQLClient, Account, Tree], Awaitable[object]]


async def _update_lecture(gql: GraphQLClient, owner: Account, tree: Tree) -> object:
    query = "mutation($id: ID!, $i: LectureInput!) { updateLecture(id: $id, input: $i) { id } }"
    return await gql.data(query, {"id": tree.lecture, "i": {"title": "Renamed"}}, token=owner.token)


async def _archive_lecture(gql: GraphQLClient, owner: Account, tree: Tree) -> object:
    query = "mutation($id: ID!) { archiveLecture(id: $id) { id } }"
    return await gql.data(query, {"id": tree.lecture}, token=owner.token)


async def _create_task(gql: GraphQLClient, owner: Account, tree: Tree) -> object:
    query = "mutation($id: ID!, $i: TaskInput!) { createTask(lectureId: $id, input: $i) { id } }"
    return await gql.data(query, {"id": tree.lecture, "i": {"title": "Another task"}}, token=owner.token)


_STEP = {"title": "New step", "guideText": "Tap it"}


async def _update_step(gql: GraphQLClient, owner: Account, tree: Tree) -> object:
    query = "mutation($id: ID!, $i: StepInput!) { updateStep(id: $id, input: $i) { id } }"
    return await gql.data(query, {"id": tree.steps[0], "i": _STEP}, token=owner.token)


async def _add_step(gql: GraphQLClient, owner: Account, tree: Tree) -> object:
    query = "mutation($id: ID!, $i: StepInput!) { addStep(taskId: $id, input: $i) { id } }"
    return await gql.data(query, {"id": tree.task, "i": _STEP}, token=owner.token)


async def _remove_step(gql: GraphQLClient, owner: Account, tree: Tree) -> object:
    query = "mutation($id: ID!) { removeStep(id: $id) }"
    return await gql.data(query, {"id": tree.steps[0]}, token=owner.token)


async def _reorder(gql: GraphQLClient, owner: Account, tree: Tree) -> object:
    query = "mutation($id: ID!, $ids: [ID!]!) { reorderSteps(taskId: $id, stepIds: $ids) { id } }"
    return await gql.data(query, {"id": tree.task, "ids": list(reversed(tree.steps))}, token=owner.token)


@pytest.mark.parametrize(
    "write",
    [_update_lecture, _archive_lecture, _create_task, _update_step, _add_step, _remove_step, _reorder],
)
async def test_every_write_to_lecture_content_is_seen_by_the_next_read(gql, cache_on, write: Write) -> None:
    # Given a lecture tree that is cached
    owner = await make_account(Role.INSTRUCTOR)
    tree = await _tree(gql, owner)
    lecture_id = tree.lecture
    before, _ = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    # When the owner changes it
    await write(gql, owner, tree)
    # Then the very next read runs again and shows the change
    after, statements = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    assert statements > 0
    assert after != before


async def test_converting_a_recording_is_seen_by_the_next_read(gql, cache_on, drain) -> None:
    # Given an analysed recording and its owner's lecture tree, cached
    owner = await make_account(Role.INSTRUCTOR)
    recording_id, _ = await recorded(gql, owner)
    await analysed(gql, owner, recording_id)
    lecture_id = (await _tree(gql, owner)).lecture
    before, _ = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    # When the recording becomes a task of that lecture
    convert = "mutation($id: ID!, $l: ID!) { convertRecordingToTask(id: $id, lectureId: $l) { id } }"
    task = await gql.data(convert, {"id": recording_id, "l": lecture_id}, token=owner.token)
    # Then the next read shows the new task
    after, _ = await _run(gql, TREE, {"id": lecture_id}, owner.token)
    assert len(after["lecture"]["tasks"]) == len(before["lecture"]["tasks"]) + 1
    assert after["lecture"]["tasks"][-1]["id"] == task["convertRecordingToTask"]["id"]


async def test_a_query_of_nothing_but_typenames_is_not_cached(gql, cache_on) -> None:
    # Given the cache on
    # When a query reads no field but __typename, twice
    for _ in range(2):
        assert await gql.data("{ __typename }") == {"__typename": "Query"}
    # Then nothing was stored (running it is cheaper than looking up the content version)
    assert len(store()) == 0
