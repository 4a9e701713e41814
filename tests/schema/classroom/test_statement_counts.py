"""N+1 guards: a classroom list costs the same number of SQL statements however long it is."""

from core.auth import ParticipantActor, Role
from core.db import transaction
from resolvers import classroom
from tests.helpers.classroom import (
    Classroom,
    Joined,
    actor,
    complete,
    join,
    make_classroom,
    make_lecture,
    make_task,
)
from tests.helpers.db import count_queries
from tests.helpers.factories import make_account

PARTICIPANT = """id displayName status completedSteps online lastSeenAt user { id } currentStep { id order }
  progress { status attempts step { id title } participant { id } }"""
SESSIONS_OF_LECTURE = f"""
query($id: ID!) {{ lecture(id: $id) {{ id sessions {{ id code status title currentStep {{ id }}
  steps {{ id order }} lecture {{ id title }} participants {{ {PARTICIPANT} }} }} }} }}"""
MY_LECTURES = f"""
{{ lectures(mine: true, first: 20) {{ edges {{ node {{ id
  sessions {{ id participants {{ {PARTICIPANT} }} }} }} }} }} }}"""
SESSION_PARTICIPANTS = f"""
query($id: ID!) {{ liveSession(id: $id) {{ id currentStep {{ id }} steps {{ id }}
  participants {{ {PARTICIPANT} }} me {{ id }} }} }}"""
LECTURE_TREE = """
query($id: ID!) { lecture(id: $id) { id title instructor { id } tasks { id title lecture { id }
  steps { id order title targetAction guideText targetHint { viewId bounds } } } } }"""
HELP_REQUESTS = """
query($id: ID!) { helpRequests(sessionId: $id) { id status message createdAt diagnosis { attempts }
  step { id order title } participant { id displayName currentStep { id } progress { status } } } }"""


async def _class_with_progress(participants: int) -> tuple[Classroom, list[Joined]]:
    room = await make_classroom(steps=3, start=True)
    people = [await join(room, f"Student {n}", f"device-{n:04d}") for n in range(participants)]
    for person in people:
        await complete(room, person, room.steps[0])
    return room, people


async def _ask_for_help(room: Classroom, people: list[Joined]) -> None:
    for person in people:
        async with transaction() as db:
            await classroom.request_help(
                db,
                ParticipantActor(person.participant.id, room.session.id),
                room.session.id,
                room.steps[1].id,
                f"{person.participant.display_name} is stuck",
            )


async def test_the_sessions_of_a_lecture_cost_the_same_however_many_participants(gql) -> None:
    # Given a lecture with one session of one participant
    small, _ = await _class_with_progress(1)
    with count_queries() as few:
        one = await gql.data(SESSIONS_OF_LECTURE, {"id": str(small.lecture.id)}, token=small.instructor.token)
    # When another lecture's session has eight participants with progress
    large, _ = await _class_with_progress(8)
    with count_queries() as many:
        eight = await gql.data(
            SESSIONS_OF_LECTURE, {"id": str(large.lecture.id)}, token=large.instructor.token
        )
    # Then both lists are complete and cost the same number of statements
    assert len(one["lecture"]["sessions"][0]["participants"]) == 1
    assert len(eight["lecture"]["sessions"][0]["participants"]) == 8
    assert all(len(p["progress"]) == 1 for p in eight["lecture"]["sessions"][0]["participants"])
    assert len(many) == len(few)


async def test_an_instructors_lectures_with_sessions_cost_the_same_however_many(gql) -> None:
    # Given an instructor with one lecture, one session, one participant
    room, _ = await _class_with_progress(1)
    with count_queries() as few:
        small = await gql.data(MY_LECTURES, token=room.instructor.token)
    # When the same lecture gets three more sessions with participants
    for n in range(3):
        async with transaction() as db:
            session = await classroom.create_live_session(
                db, actor(room.instructor), room.lecture.id, room.task.id, f"Session {n}"
            )
        extra = Classroom(room.instructor, room.lecture, room.task, session, room.steps)
        for m in range(3):
            await join(extra, f"Student {n}.{m}", f"device-{n}-{m:04d}")
    with count_queries() as many:
        large = await gql.data(MY_LECTURES, token=room.instructor.token)
    # Then the list is complete and costs the same number of statements
    assert [len(e["node"]["sessions"]) for e in small["lectures"]["edges"]] == [1]
    sessions = large["lectures"]["edges"][0]["node"]["sessions"]
    assert sorted(len(s["participants"]) for s in sessions) == [1, 3, 3, 3]
    assert len(many) == len(few)


async def test_a_sessions_participants_cost_the_same_however_many(gql) -> None:
    small, _ = await _class_with_progress(1)
    with count_queries() as few:
        one = await gql.data(SESSION_PARTICIPANTS, {"id": small.id}, token=small.instructor.token)
    large, _ = await _class_with_progress(10)
    with count_queries() as many:
        ten = await gql.data(SESSION_PARTICIPANTS, {"id": large.id}, token=large.instructor.token)
    assert len(one["liveSession"]["participants"]) == 1
    assert len(ten["liveSession"]["participants"]) == 10
    assert len(many) == len(few)


async def test_help_requests_cost_the_same_however_many(gql) -> None:
    # Given a session with one help request
    small, small_people = await _class_with_progress(1)
    await _ask_for_help(small, small_people)
    with count_queries() as few:
        one = await gql.data(HELP_REQUESTS, {"id": small.id}, token=small.instructor.token)
    # When another session has nine, each from another participant
    large, large_people = await _class_with_progress(9)
    await _ask_for_help(large, large_people)
    with count_queries() as many:
        nine = await gql.data(HELP_REQUESTS, {"id": large.id}, token=large.instructor.token)
    # Then both are complete and cost the same number of statements
    assert len(one["helpRequests"]) == 1
    assert len(nine["helpRequests"]) == 9
    assert {r["step"]["order"] for r in nine["helpRequests"]} == {2}
    assert len(many) == len(few)


async def test_a_lectures_tasks_and_steps_cost_the_same_however_many(gql) -> None:
    # Given a lecture with one task of one step
    instructor = await make_account(Role.INSTRUCTOR, name="Tree Instructor")
    small = await make_lecture(instructor)
    await make_task(instructor, small, 1)
    with count_queries() as few:
        one = await gql.data(LECTURE_TREE, {"id": str(small.id)}, token=instructor.token)
    # When another lecture has three tasks of four steps each
    large = await make_lecture(instructor)
    for _ in range(3):
        await make_task(instructor, large, 4)
    with count_queries() as many:
        twelve = await gql.data(LECTURE_TREE, {"id": str(large.id)}, token=instructor.token)
    # Then both trees are complete, in order, and cost the same number of statements
    assert [len(t["steps"]) for t in one["lecture"]["tasks"]] == [1]
    assert [[s["order"] for s in t["steps"]] for t in twelve["lecture"]["tasks"]] == [[1, 2, 3, 4]] * 3
    assert {t["lecture"]["id"] for t in twelve["lecture"]["tasks"]} == {str(large.id)}
    assert len(many) == len(few)
