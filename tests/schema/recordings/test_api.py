"""Recordings through GraphQL: ownership, the state machine and whole-batch validation.

A refused batch must leave nothing behind: no row in Postgres and no message on the Kafka topic.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.auth import Role
from core.db import read_session, transaction
from core.text import TEXT as MAX_TEXT_LENGTH
from models.classroom import Lecture, TargetAction, UiTarget
from models.recordings import AnalyzedStep, Recording, RecordingStatus
from resolvers.recordings import lifecycle
from resolvers.recordings.events import MAX_BATCH_EVENTS
from tests.helpers.classroom import actor, join, make_classroom, make_lecture, make_task
from tests.helpers.client import error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import Account, make_account
from tests.helpers.recordings import (
    APPEND,
    LOG_ACTIVITY,
    START,
    STOP,
    click,
    clicks,
    instructor,
    join_as,
    start_recording,
    stored,
    topic_end,
)

RECORDING = "query($id: ID!) { recording(id: $id) { id title status } }"
RECORDINGS = "{ recordings { edges { node { id title } } } }"


async def refused(gql: Any, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """The error of a refused batch, having checked that nothing of it reached Kafka or Postgres."""
    before = (await topic_end(), await stored())
    error = await gql.error(query, variables, token=token)
    assert (await topic_end(), await stored()) == before
    return error


async def test_only_instructors_start_recordings(gql) -> None:
    student = await make_account(Role.STUDENT)
    error = await gql.error(START, {"title": "Mine"}, token=student.token)
    assert error_code(error) == "FORBIDDEN"
    async with read_session() as db:
        assert (await db.execute(select(func.count()).select_from(Recording))).scalar_one() == 0


async def test_a_recording_is_seen_and_changed_only_by_its_owner(gql) -> None:
    # Given a recording of one instructor
    owner, other = await instructor(), await instructor()
    recording_id = await start_recording(gql, owner, "Video call")
    # When another instructor looks for it, lists theirs, and tries to stop it or append to it
    seen = (await gql.data(RECORDING, {"id": recording_id}, token=other.token))["recording"]
    listed = (await gql.data(RECORDINGS, token=other.token))["recordings"]["edges"]
    stop = await gql.error(STOP, {"id": recording_id}, token=other.token)
    append = await refused(gql, APPEND, {"id": recording_id, "events": clicks(1)}, other.token)
    # Then it does not exist for them and is unchanged
    assert (seen, listed, error_code(stop)) == (None, [], "NOT_FOUND")
    assert (error_code(append), append["extensions"]["field"]) == ("BAD_USER_INPUT", "recordingId")
    mine = (await gql.data(RECORDING, {"id": recording_id}, token=owner.token))["recording"]
    assert mine == {"id": recording_id, "title": "Video call", "status": "RECORDING"}


async def test_stopping_twice_is_a_conflict(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    first = (await gql.data(STOP, {"id": recording_id}, token=owner.token))["stopRecording"]
    error = await gql.error(STOP, {"id": recording_id}, token=owner.token)
    assert first["status"] == "COMPLETED" and first["durationSeconds"] >= 0
    assert error_code(error) == "CONFLICT"
    again = (await gql.data(RECORDING, {"id": recording_id}, token=owner.token))["recording"]
    assert again["status"] == "COMPLETED"


async def test_a_batch_with_a_naive_timestamp_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = clicks(3)
    events[1]["occurredAt"] = datetime.now().replace(tzinfo=None).isoformat()
    error = await refused(gql, APPEND, {"id": recording_id, "events": events}, owner.token)
    assert error_code(error) == "BAD_USER_INPUT"
    assert (error["extensions"]["index"], error["extensions"]["field"]) == (1, "events[1].occurredAt")


async def test_a_batch_with_a_timestamp_from_the_future_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = [*clicks(2), click(datetime.now(UTC) + timedelta(hours=1))]
    error = await refused(gql, APPEND, {"id": recording_id, "events": events}, owner.token)
    assert (error_code(error), error["extensions"]["index"]) == ("BAD_USER_INPUT", 2)
    assert error["message"] == "Event 2: occurredAt is in the future"


async def test_a_batch_with_oversize_text_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    events = clicks(2)
    events[0]["text"] = "x" * (MAX_TEXT_LENGTH + 1)
    error = await refused(gql, APPEND, {"id": recording_id, "events": events}, owner.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "events[0].text")


async def test_a_batch_over_the_maximum_size_is_refused_whole(gql) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    error = await refused(
        gql, APPEND, {"id": recording_id, "events": clicks(MAX_BATCH_EVENTS + 1)}, owner.token
    )
    assert (error_code(error), error["extensions"]["index"]) == ("BAD_USER_INPUT", MAX_BATCH_EVENTS)
    assert error["message"] == f"A batch holds at most {MAX_BATCH_EVENTS} events, got {MAX_BATCH_EVENTS + 1}"


async def test_a_batch_for_an_unknown_recording_is_refused(gql) -> None:
    owner = await instructor()
    error = await refused(gql, APPEND, {"id": str(uuid.uuid4()), "events": clicks(1)}, owner.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "recordingId")


def activity(**fields: Any) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "tap",
        "occurredAt": datetime.now(UTC).isoformat(),
        **fields,
    }


async def test_an_activity_event_naming_an_unknown_recording_refuses_the_batch(gql) -> None:
    student = await make_account()
    events = [activity(), activity(recordingId=str(uuid.uuid4()))]
    error = await refused(gql, LOG_ACTIVITY, {"events": events}, student.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "events[1].recordingId")


async def test_someone_elses_recording_is_answered_like_a_missing_one(gql) -> None:
    # Given another instructor's recording
    owner, other = await instructor(), await instructor()
    recording_id = await start_recording(gql, owner)
    # When the other instructor logs activity naming it, and naming one that does not exist
    theirs = await refused(gql, LOG_ACTIVITY, {"events": [activity(recordingId=recording_id)]}, other.token)
    missing = await refused(
        gql, LOG_ACTIVITY, {"events": [activity(recordingId=str(uuid.uuid4()))]}, other.token
    )
    # Then both are refused with the same answer, and nothing was stored
    assert theirs == missing
    assert (error_code(theirs), theirs["message"]) == ("BAD_USER_INPUT", "Event 0: unknown recording")


async def test_a_session_one_has_no_part_in_is_answered_like_a_missing_one(gql) -> None:
    # Given a live session the student has not joined
    student = await make_account()
    room = await make_classroom()
    # When the student logs activity naming it, and naming one that does not exist
    theirs = await refused(gql, LOG_ACTIVITY, {"events": [activity(sessionId=room.id)]}, student.token)
    missing = await refused(
        gql, LOG_ACTIVITY, {"events": [activity(sessionId=str(uuid.uuid4()))]}, student.token
    )
    # Then both are refused with the same answer, naming the field
    assert theirs == missing
    assert (error_code(theirs), theirs["extensions"]["field"], theirs["message"]) == (
        "BAD_USER_INPUT",
        "events[0].sessionId",
        "Event 0: unknown session",
    )


async def test_a_participant_logs_only_for_their_own_session(gql) -> None:
    # Given an anonymous participant of one session, and another session
    room, other_room = await make_classroom(), await make_classroom()
    joined = await join(room)
    # When they log for the other session, and for a session that does not exist
    other = await refused(gql, LOG_ACTIVITY, {"events": [activity(sessionId=other_room.id)]}, joined.token)
    missing = await refused(
        gql, LOG_ACTIVITY, {"events": [activity(sessionId=str(uuid.uuid4()))]}, joined.token
    )
    # Then both get the same answer; their own session (named or implied) is accepted
    assert other == missing and other["message"] == "Event 0: unknown session"
    accepted = await gql.data(
        LOG_ACTIVITY, {"events": [activity(sessionId=room.id), activity()]}, token=joined.token
    )
    assert accepted == {"logActivity": 2}


async def test_the_linked_may_log_for_sessions_and_recordings(gql) -> None:
    # Given a session's instructor, a signed-in participant of it, and the owner of a recording
    room = await make_classroom()
    student = await make_account()
    await join_as(room, student)
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    # When each logs activity naming what they are linked to, then it is accepted
    for token, event in (
        (room.instructor.token, activity(sessionId=room.id)),
        (student.token, activity(sessionId=room.id)),
        (owner.token, activity(recordingId=recording_id)),
    ):
        assert await gql.data(LOG_ACTIVITY, {"events": [event]}, token=token) == {"logActivity": 1}


async def test_anonymous_activity_logs_are_refused(gql) -> None:
    event = {"eventId": str(uuid.uuid4()), "eventType": "tap", "occurredAt": datetime.now(UTC).isoformat()}
    before = await stored()
    error = await gql.error(LOG_ACTIVITY, {"events": [event]})
    assert error_code(error) == "UNAUTHENTICATED"
    assert await stored() == before


async def test_no_events_are_taken_once_the_analysis_started(gql) -> None:
    # Given a recording being analysed
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    await gql.data(STOP, {"id": recording_id}, token=owner.token)
    await gql.data(
        "mutation($id: ID!) { analyzeRecording(id: $id) { id } }", {"id": recording_id}, token=owner.token
    )
    # When the phone sends a late batch
    error = await refused(gql, APPEND, {"id": recording_id, "events": clicks(1)}, owner.token)
    # Then it is a conflict
    assert error_code(error) == "CONFLICT"


START_IN_LECTURE = """
mutation($title: String!, $lectureId: ID) { startRecording(title: $title, lectureId: $lectureId) { id } }"""


async def test_a_recording_goes_only_into_a_lecture_of_ones_own(gql) -> None:
    # Given a lecture of one instructor
    owner, other = await instructor(), await instructor()
    lecture = await make_lecture(owner)
    # When another instructor records into it, or into a lecture that does not exist
    foreign = await gql.error(
        START_IN_LECTURE, {"title": "R", "lectureId": str(lecture.id)}, token=other.token
    )
    missing = await gql.error(
        START_IN_LECTURE, {"title": "R", "lectureId": str(uuid.uuid4())}, token=other.token
    )
    # Then the classroom's answers are given, and nothing was stored
    assert (error_code(foreign), error_code(missing)) == ("FORBIDDEN", "NOT_FOUND")
    async with read_session() as db:
        assert (await db.execute(select(func.count()).select_from(Recording))).scalar_one() == 0


async def test_an_admin_may_record_into_any_lecture(gql) -> None:
    owner, admin = await instructor(), await make_account(Role.ADMIN)
    lecture = await make_lecture(owner)
    started = await gql.data(
        START_IN_LECTURE, {"title": "R", "lectureId": str(lecture.id)}, token=admin.token
    )
    async with read_session() as db:
        recording = await db.get(Recording, uuid.UUID(started["startRecording"]["id"]))
    assert recording is not None and recording.lecture_id == lecture.id


async def test_a_title_with_control_characters_is_refused(gql) -> None:
    owner = await instructor()
    error = await gql.error(START, {"title": "Send\x00 a photo"}, token=owner.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "title")


RECORDINGS_WITH_TASKS = """
{ recordings(first: 50) { edges { node { id title analysis { order title target { viewId } }
  task { id title steps { id order targetHint { viewId } } } } } } }"""


async def converted_recording(owner: Account, lecture: Lecture, n: int) -> None:
    """An analysed recording converted into a task of `lecture`, written through the resolvers."""
    task = await make_task(owner, lecture, 4, f"Task {n}")
    step = AnalyzedStep(
        title="Tap “Send”",
        target_action=TargetAction.CLICK,
        target=UiTarget(view_id="app:id/send"),
        source_event_ids=[str(uuid.uuid4())],
        guide_text="Tap it.",
    )
    async with transaction() as db:
        recording = await lifecycle.start_recording(db, actor(owner), f"Recording {n}", None, None)
        recording.status = RecordingStatus.ANALYZED
        recording.analysis = [step.model_dump(mode="json")] * 3
        recording.task_id = task.id


async def test_recording_list_statement_count_does_not_grow_with_the_list(gql) -> None:
    # Given one converted recording
    owner = await instructor()
    lecture = await make_lecture(owner)
    await converted_recording(owner, lecture, 0)
    with count_queries() as few:
        small = await gql.data(RECORDINGS_WITH_TASKS, token=owner.token)
    # When there are many, each with its task of steps
    for n in range(1, 10):
        await converted_recording(owner, lecture, n)
    with count_queries() as many:
        large = await gql.data(RECORDINGS_WITH_TASKS, token=owner.token)
    # Then the list is complete and costs the same number of statements
    edges = large["recordings"]["edges"]
    assert (len(small["recordings"]["edges"]), len(edges)) == (1, 10)
    assert {e["node"]["task"]["title"] for e in edges} == {f"Task {n}" for n in range(10)}
    assert all(len(e["node"]["task"]["steps"]) == 4 and len(e["node"]["analysis"]) == 3 for e in edges)
    assert edges[0]["node"]["analysis"][0]["target"] == {"viewId": "app:id/send"}
    assert len(many) == len(few)
