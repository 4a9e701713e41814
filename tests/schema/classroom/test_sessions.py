"""Live sessions over HTTP: codes, the state machine, control rights, joining, progress, help and presence."""

import asyncio
import re
import time
from collections.abc import Awaitable
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from broadcast import presence
from core.auth import Role
from core.db import read_session, transaction
from core.redis import redis
from core.settings import get_settings
from models.classroom import (
    HelpRequest,
    Lecture,
    LiveSession,
    Participant,
    SessionControl,
    SessionStatus,
    StepProgress,
)
from resolvers import classroom
from resolvers.classroom import JOIN_CODE_ALPHABET
from tests.helpers.classroom import Classroom, actor, join, make_classroom, make_lecture, make_task
from tests.helpers.client import error_code
from tests.helpers.factories import make_account

CREATE_SESSION = """
mutation($lectureId: ID!, $taskId: ID) { createLiveSession(lectureId: $lectureId, taskId: $taskId) {
  id code joinUrl qrCodeSvg title status currentStep { id } steps { id order } } }"""
SESSION_BY_CODE = "query($code: String!) { liveSession(code: $code) { id title status } }"
SESSION_BY_ID = """
query($id: ID!) { liveSession(id: $id) { id status currentStep { id title }
  participants { id displayName status completedSteps online progress { step { id } status attempts } }
  me { id } } }"""
START = "mutation($id: ID!) { startSession(id: $id) { status currentStep { id order } startedAt } }"
PAUSE = "mutation($id: ID!) { pauseSession(id: $id) { status } }"
RESUME = "mutation($id: ID!) { resumeSession(id: $id) { status } }"
END = "mutation($id: ID!) { endSession(id: $id) { status endedAt } }"
NEXT = "mutation($id: ID!) { nextStep(sessionId: $id) { currentStep { id order } } }"
PREVIOUS = "mutation($id: ID!) { previousStep(sessionId: $id) { currentStep { id order } } }"
GO_TO = (
    "mutation($id: ID!, $step: ID!) { goToStep(sessionId: $id, stepId: $step) { currentStep { id order } } }"
)
JOIN = """
mutation($code: String!, $name: String!, $device: String) {
  joinSession(code: $code, displayName: $name, deviceId: $device) {
    participantToken session { id status } participant { id displayName status } } }"""
REPORT = """
mutation($id: ID!, $step: ID!, $status: ProgressStatus!) {
  reportProgress(sessionId: $id, stepId: $step, status: $status) {
    status attempts startedAt completedAt participant { id status completedSteps } step { id } } }"""
REQUEST_HELP = """
mutation($id: ID!, $step: ID, $message: String) {
  requestHelp(sessionId: $id, stepId: $step, message: $message) { id status message step { id }
    participant { id displayName } diagnosis { attempts stepsBehind } } }"""
ACKNOWLEDGE = "mutation($id: ID!) { acknowledgeHelpRequest(id: $id) { id status } }"
RESOLVE = """
mutation($id: ID!, $r: String) { resolveHelpRequest(id: $id, response: $r) { status response resolvedAt } }"""
MESSAGE = "mutation($id: ID!, $m: String!) { sendInstructorMessage(sessionId: $id, message: $m) }"


async def session_row(room: Classroom) -> LiveSession:
    async with read_session() as db:
        row = await db.get(LiveSession, room.session.id)
    assert row is not None
    return row


async def test_create_live_session_gives_a_code_a_join_url_and_a_qr_code(gql) -> None:
    # Given a lecture with a task
    instructor = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(instructor)
    task = await make_task(instructor, lecture, 2)
    # When the instructor creates a session without naming the task
    session = (await gql.data(CREATE_SESSION, {"lectureId": str(lecture.id)}, token=instructor.token))[
        "createLiveSession"
    ]
    # Then it waits, on the lecture's task, with a readable code in its URL and QR code
    assert re.fullmatch(f"[{JOIN_CODE_ALPHABET}]{{6}}", session["code"])
    assert session["joinUrl"].endswith(f"/join/{session['code']}")
    assert session["qrCodeSvg"].startswith("<svg") and session["qrCodeSvg"].rstrip().endswith("</svg>")
    assert (session["status"], session["currentStep"], session["title"]) == ("WAITING", None, task.title)
    assert [s["order"] for s in session["steps"]] == [1, 2]
    # And anyone can find it by its code, typed loosely
    found = await gql.data(SESSION_BY_CODE, {"code": f" {session['code'].lower()} "})
    assert found["liveSession"] == {"id": session["id"], "title": task.title, "status": "WAITING"}


async def test_a_task_of_another_lecture_is_refused(gql) -> None:
    instructor = await make_account(Role.INSTRUCTOR)
    lecture = await make_lecture(instructor)
    foreign = await make_task(instructor, await make_lecture(instructor, "Other"), 1)
    error = await gql.error(
        CREATE_SESSION, {"lectureId": str(lecture.id), "taskId": str(foreign.id)}, token=instructor.token
    )
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "taskId")
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(LiveSession)) == 0


async def test_join_codes_are_unique_only_among_sessions_that_have_not_ended() -> None:
    first = await make_classroom()
    second = await make_classroom()
    # An open session cannot take an open session's code
    with pytest.raises(IntegrityError):
        async with transaction() as db:
            await db.execute(
                update(LiveSession).where(LiveSession.id == second.session.id).values(code=first.session.code)
            )
    # Once the first has ended, its code is free again
    async with transaction() as db:
        await db.execute(
            update(LiveSession).where(LiveSession.id == first.session.id).values(status=SessionStatus.ENDED)
        )
        await db.execute(
            update(LiveSession).where(LiveSession.id == second.session.id).values(code=first.session.code)
        )


async def test_the_state_machine_walks_through_its_legal_moves(gql) -> None:
    room = await make_classroom(steps=2)
    token, ids = room.instructor.token, {"id": room.id}
    started = (await gql.data(START, ids, token=token))["startSession"]
    assert started["status"] == "IN_PROGRESS" and started["startedAt"] is not None
    assert started["currentStep"] == {"id": str(room.steps[0].id), "order": 1}
    assert (await gql.data(PAUSE, ids, token=token))["pauseSession"] == {"status": "PAUSED"}
    assert (await gql.data(RESUME, ids, token=token))["resumeSession"] == {"status": "IN_PROGRESS"}
    ended = (await gql.data(END, ids, token=token))["endSession"]
    assert ended["status"] == "ENDED" and ended["endedAt"] is not None


@pytest.mark.parametrize(
    ("setup", "illegal"),
    [
        ([], NEXT),
        ([], RESUME),
        ([], PAUSE),
        ([START], START),
        ([START], RESUME),
        ([START, PAUSE], NEXT),
        ([START, PAUSE], PAUSE),
        ([END], START),
        ([START, END], END),
        ([START, END], RESUME),
    ],
)
async def test_an_illegal_move_is_a_conflict_and_changes_nothing(gql, setup: list[str], illegal: str) -> None:
    room = await make_classroom(steps=2)
    for mutation in setup:
        await gql.data(mutation, {"id": room.id}, token=room.instructor.token)
    before = await session_row(room)
    error = await gql.error(illegal, {"id": room.id}, token=room.instructor.token)
    assert error_code(error) == "CONFLICT"
    after = await session_row(room)
    assert (after.status, after.current_step_id) == (before.status, before.current_step_id)


async def test_steps_move_within_the_session_task_only(gql) -> None:
    room = await make_classroom(steps=3, start=True)
    token, ids = room.instructor.token, {"id": room.id}
    assert (await gql.data(NEXT, ids, token=token))["nextStep"]["currentStep"]["order"] == 2
    assert (await gql.data(PREVIOUS, ids, token=token))["previousStep"]["currentStep"]["order"] == 1
    moved = await gql.data(GO_TO, {**ids, "step": str(room.steps[2].id)}, token=token)
    assert moved["goToStep"]["currentStep"] == {"id": str(room.steps[2].id), "order": 3}
    assert error_code(await gql.error(NEXT, ids, token=token)) == "CONFLICT"
    # A step of another task, even the instructor's own, is bad input and moves nothing
    other = await make_task(room.instructor, room.lecture, 1, "Other task")
    from tests.helpers.classroom import task_steps

    foreign = (await task_steps(other.id))[0]
    error = await gql.error(GO_TO, {**ids, "step": str(foreign.id)}, token=token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "stepId")
    assert (await session_row(room)).current_step_id == room.steps[2].id


async def test_every_control_action_is_audited_with_who_and_when(gql) -> None:
    room = await make_classroom(steps=2)
    for mutation in (START, NEXT, PAUSE, END):
        await gql.data(mutation, {"id": room.id}, token=room.instructor.token)
    async with read_session() as db:
        rows = (
            (
                await db.execute(
                    select(SessionControl)
                    .where(SessionControl.session_id == room.session.id)
                    .order_by(SessionControl.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert [(r.action, r.from_status.value, r.to_status.value) for r in rows] == [
        ("create", "WAITING", "WAITING"),
        ("start", "WAITING", "IN_PROGRESS"),
        ("next_step", "IN_PROGRESS", "IN_PROGRESS"),
        ("pause", "IN_PROGRESS", "PAUSED"),
        ("end", "PAUSED", "ENDED"),
    ]
    assert {r.actor_id for r in rows} == {room.instructor.user.id}
    assert rows[2].from_step_id == room.steps[0].id and rows[2].to_step_id == room.steps[1].id


async def test_only_the_session_instructor_controls_it(gql) -> None:
    room = await make_classroom(steps=2)
    other = await make_account(Role.INSTRUCTOR)
    joined = await join(room)
    for token, code in ((other.token, "FORBIDDEN"), (joined.token, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        error = await gql.error(START, {"id": room.id}, token=token)
        assert error_code(error) == code
    assert (await session_row(room)).status is SessionStatus.WAITING


async def test_joining_needs_no_account_and_rejoining_with_the_participant_token_is_the_same(gql) -> None:
    room = await make_classroom()
    variables = {"code": room.session.code, "name": "  Grandpa   Kim ", "device": "android-device-0001"}
    first = (await gql.data(JOIN, variables))["joinSession"]
    assert first["participant"]["displayName"] == "Grandpa Kim"
    assert first["participant"]["status"] == "WAITING"
    # Re-joining with the participant token it was given (an app restart) is the same participant
    again = (await gql.data(JOIN, {**variables, "name": "Kim"}, token=first["participantToken"]))[
        "joinSession"
    ]
    assert again["participant"]["id"] == first["participant"]["id"]
    assert again["participant"]["displayName"] == "Kim"
    # The token is the participant's own, for this session
    me = await gql.data(SESSION_BY_ID, {"id": room.id}, token=first["participantToken"])
    assert me["liveSession"]["me"] == {"id": first["participant"]["id"]}


async def test_a_device_id_alone_never_hands_over_an_existing_participant(gql) -> None:
    # Given Alice, joined from her phone, who asked for help
    room = await make_classroom(start=True)
    alice_joins = {"code": room.session.code, "name": "Alice", "device": "alice-phone-0001"}
    alice = (await gql.data(JOIN, alice_joins))["joinSession"]
    await gql.data(
        REQUEST_HELP, {"id": room.id, "message": "My screen is dark"}, token=alice["participantToken"]
    )
    # When someone else joins with Alice's device id but without her token
    mallory = (await gql.data(JOIN, {**alice_joins, "name": "Mallory"}))["joinSession"]
    # Then they are a new participant, Alice keeps her name, and her help requests stay hers
    assert mallory["participant"]["id"] != alice["participant"]["id"]
    assert mallory["participant"]["displayName"] == "Mallory"
    seen = await gql.data(SESSION_BY_ID, {"id": room.id}, token=room.instructor.token)
    names = {p["id"]: p["displayName"] for p in seen["liveSession"]["participants"]}
    assert names == {alice["participant"]["id"]: "Alice", mallory["participant"]["id"]: "Mallory"}
    asked = "query($id: ID!) { helpRequests(sessionId: $id) { message participant { id } } }"
    assert (await gql.data(asked, {"id": room.id}, token=mallory["participantToken"]))["helpRequests"] == []
    assert (await gql.data(asked, {"id": room.id}, token=alice["participantToken"]))["helpRequests"] == [
        {"message": "My screen is dark", "participant": {"id": alice["participant"]["id"]}}
    ]


async def test_a_participant_token_of_another_session_is_no_proof_here(gql) -> None:
    first_room, second_room = await make_classroom(), await make_classroom()
    elsewhere = (await gql.data(JOIN, {"code": first_room.session.code, "name": "Kim"}))["joinSession"]
    here = (
        await gql.data(
            JOIN, {"code": second_room.session.code, "name": "Kim"}, token=elsewhere["participantToken"]
        )
    )["joinSession"]
    assert here["participant"]["id"] != elsewhere["participant"]["id"]
    assert here["session"]["id"] == second_room.id


async def test_a_signed_in_student_rejoining_is_the_same_participant(gql) -> None:
    room = await make_classroom()
    student = await make_account()
    variables = {"code": room.session.code, "name": "Min-ji"}
    first = (await gql.data(JOIN, variables, token=student.token))["joinSession"]
    second = (await gql.data(JOIN, variables, token=student.token))["joinSession"]
    assert first["participant"]["id"] == second["participant"]["id"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 41, "Grandma\u0000Lee", "Grandma\u001bLee"])
async def test_a_bad_display_name_is_refused_and_nothing_is_written(gql, name: str) -> None:
    room = await make_classroom()
    error = await gql.error(JOIN, {"code": room.session.code, "name": name})
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "displayName")
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(Participant)) == 0


async def test_a_device_id_with_a_control_character_is_refused_and_nothing_is_written(gql) -> None:
    room = await make_classroom()
    variables = {"code": room.session.code, "name": "Grandma Lee", "device": "android\u0000device-1"}
    error = await gql.error(JOIN, variables)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "deviceId")
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(Participant)) == 0


async def test_an_ended_session_admits_no_one(gql) -> None:
    room = await make_classroom()
    await gql.data(END, {"id": room.id}, token=room.instructor.token)
    error = await gql.error(JOIN, {"code": room.session.code, "name": "Late"})
    assert error_code(error) == "NOT_FOUND"
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(Participant)) == 0


async def test_a_full_session_admits_no_one_new_even_when_many_join_at_once(gql, monkeypatch) -> None:
    # Given a session that admits three participants
    monkeypatch.setattr(get_settings(), "max_participants_per_session", 3)
    room = await make_classroom()
    # When ten phones join at the same moment
    attempts = await asyncio.gather(
        *(gql.execute(JOIN, {"code": room.session.code, "name": f"Student {n}"}) for n in range(10))
    )
    # Then exactly three are in and the others are told the session is full
    admitted = [a["data"]["joinSession"] for a in attempts if a.get("data")]
    refused = [error_code(a["errors"][0]) for a in attempts if a.get("errors")]
    assert (len(admitted), refused) == (3, ["CONFLICT"] * 7)
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(Participant)) == 3
    # And someone already in may still re-join with their token
    again = await gql.data(
        JOIN, {"code": room.session.code, "name": "Back"}, token=admitted[0]["participantToken"]
    )
    assert again["joinSession"]["participant"]["id"] == admitted[0]["participant"]["id"]


ARCHIVE = "mutation($id: ID!) { archiveLecture(id: $id) { isActive } }"


async def test_archiving_a_lecture_ends_its_open_sessions_and_their_codes_stop_working(gql) -> None:
    # Given a lecture with a running session that someone joined, and one that has not started
    room = await make_classroom(start=True)
    joined = await join(room)
    async with transaction() as db:
        waiting = await classroom.create_live_session(
            db, actor(room.instructor), room.lecture.id, room.task.id, "Later"
        )
    # When the instructor archives the lecture
    archived = await gql.data(ARCHIVE, {"id": str(room.lecture.id)}, token=room.instructor.token)
    assert archived["archiveLecture"] == {"isActive": False}
    # Then both sessions have ended, each with an audit record
    async with read_session() as db:
        statuses = {
            row.id: row.status
            for row in (
                await db.scalars(select(LiveSession).where(LiveSession.lecture_id == room.lecture.id))
            )
        }
        ends = await db.scalar(
            select(func.count()).select_from(SessionControl).where(SessionControl.action == "end")
        )
    assert statuses == {room.session.id: SessionStatus.ENDED, waiting.id: SessionStatus.ENDED}
    assert ends == 2
    # And their codes neither show nor admit anyone
    for code in (room.session.code, waiting.code):
        assert error_code(await gql.error(SESSION_BY_CODE, {"code": code})) == "NOT_FOUND"
        assert error_code(await gql.error(JOIN, {"code": code, "name": "Late"})) == "NOT_FOUND"
    # While the participant may still read the session as review
    review = await gql.data(SESSION_BY_ID, {"id": room.id}, token=joined.token)
    assert review["liveSession"]["status"] == "ENDED"


async def test_an_open_session_of_an_archived_lecture_is_not_found_by_its_code(gql) -> None:
    # Given a session left open when its lecture was archived (rows from before archiving ended sessions)
    room = await make_classroom(start=True)
    async with transaction() as db:
        await db.execute(update(Lecture).where(Lecture.id == room.lecture.id).values(is_active=False))
    # When anyone looks it up or joins by its code
    shown = await gql.error(SESSION_BY_CODE, {"code": room.session.code})
    joining = await gql.error(JOIN, {"code": room.session.code, "name": "Late"})
    # Then it is not found, and nobody joined
    assert (error_code(shown), error_code(joining)) == ("NOT_FOUND", "NOT_FOUND")
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(Participant)) == 0


async def test_guessing_join_codes_is_rate_limited_per_address(gql) -> None:
    room = await make_classroom()
    for _ in range(10):
        assert error_code(await gql.error(JOIN, {"code": "ZZZZZZ", "name": "Guess"})) == "NOT_FOUND"
    error = await gql.error(JOIN, {"code": room.session.code, "name": "Guess"})
    assert error_code(error) == "RATE_LIMITED"
    assert error["extensions"]["retryAfterSeconds"] >= 1


async def test_a_whole_class_behind_one_address_gets_in(gql) -> None:
    # Given a real session and a few mistyped codes from the same school
    room = await make_classroom()
    for _ in range(3):
        await gql.error(JOIN, {"code": "ZZZZZZ", "name": "Typo"})
    # When 100 students join at once from that address
    results = await asyncio.gather(
        *(
            gql.execute(
                JOIN, {"code": room.session.code, "name": f"Student {n}", "device": f"device-{n:04d}"}
            )
            for n in range(100)
        )
    )
    # Then every one of them is in
    assert [r.get("errors") for r in results] == [None] * 100
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(Participant)) == 100


async def test_progress_is_one_record_per_step_and_the_last_step_completes_the_participant(gql) -> None:
    room = await make_classroom(steps=2, start=True)
    joined = await join(room)
    first, last = (str(s.id) for s in room.steps)

    def report(step: str, status: str) -> Awaitable[Any]:
        return gql.data(REPORT, {"id": room.id, "step": step, "status": status}, token=joined.token)

    started = (await report(first, "IN_PROGRESS"))["reportProgress"]
    assert (started["status"], started["attempts"], started["completedAt"]) == ("IN_PROGRESS", 1, None)
    assert started["participant"]["status"] == "ACTIVE"
    await report(first, "HELP_NEEDED")
    retried = (await report(first, "IN_PROGRESS"))["reportProgress"]
    assert retried["attempts"] == 2 and retried["startedAt"] == started["startedAt"]
    done = (await report(first, "COMPLETED"))["reportProgress"]
    assert done["completedAt"] is not None and done["participant"]["completedSteps"] == 1
    finished = (await report(last, "COMPLETED"))["reportProgress"]
    assert finished["participant"] == {"id": joined.id, "status": "COMPLETED", "completedSteps": 2}
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(StepProgress)) == 2


async def test_progress_on_a_foreign_step_is_bad_input(gql) -> None:
    room = await make_classroom(steps=1, start=True)
    other = await make_classroom(steps=1, start=True)
    joined = await join(room)
    error = await gql.error(
        REPORT, {"id": room.id, "step": str(other.steps[0].id), "status": "COMPLETED"}, token=joined.token
    )
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "stepId")
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(StepProgress)) == 0


async def test_an_anonymous_participant_asks_for_help_and_the_instructor_resolves_it(gql) -> None:
    room = await make_classroom(steps=2, start=True)
    joined = await join(room)
    request = (
        await gql.data(
            REQUEST_HELP,
            {"id": room.id, "step": str(room.steps[0].id), "message": " Where is it? "},
            token=joined.token,
        )
    )["requestHelp"]
    assert (request["status"], request["message"], request["step"]) == (
        "PENDING",
        "Where is it?",
        {"id": str(room.steps[0].id)},
    )
    assert request["participant"] == {"id": joined.id, "displayName": "Grandma Lee"}
    assert request["diagnosis"] == {"attempts": 1, "stepsBehind": 0}
    # A participant cannot acknowledge it
    assert error_code(await gql.error(ACKNOWLEDGE, {"id": request["id"]}, token=joined.token)) == "FORBIDDEN"
    acknowledged = await gql.data(ACKNOWLEDGE, {"id": request["id"]}, token=room.instructor.token)
    assert acknowledged["acknowledgeHelpRequest"]["status"] == "ACKNOWLEDGED"
    resolved = (
        await gql.data(RESOLVE, {"id": request["id"], "r": "Top right corner"}, token=room.instructor.token)
    )["resolveHelpRequest"]
    assert (resolved["status"], resolved["response"]) == ("RESOLVED", "Top right corner")
    assert (
        error_code(await gql.error(RESOLVE, {"id": request["id"]}, token=room.instructor.token)) == "CONFLICT"
    )
    async with read_session() as db:
        saved = (await db.execute(select(HelpRequest))).scalars().one()
    assert (saved.status.value, saved.resolved_by) == ("RESOLVED", room.instructor.user.id)


async def test_help_requests_are_limited_per_participant_and_the_excess_stores_nothing(gql) -> None:
    # Given two participants of a running session
    room = await make_classroom(start=True)
    ana, bo = await join(room, "Ana"), await join(room, "Bo")
    # When Ana asks for help six times in a row
    answers = [await gql.execute(REQUEST_HELP, {"id": room.id}, token=ana.token) for _ in range(6)]
    # Then five get through and the sixth is rate limited, with nothing stored for it
    codes = [error_code(a["errors"][0]) if a.get("errors") else "OK" for a in answers]
    assert codes == ["OK"] * 5 + ["RATE_LIMITED"]
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(HelpRequest)) == 5
    # And Bo, who has his own budget, still gets through
    assert (await gql.data(REQUEST_HELP, {"id": room.id}, token=bo.token))["requestHelp"][
        "status"
    ] == "PENDING"


async def test_a_help_message_with_a_nul_character_is_bad_input_and_stores_nothing(gql) -> None:
    room = await make_classroom(start=True)
    joined = await join(room)
    error = await gql.error(REQUEST_HELP, {"id": room.id, "message": "help\u0000me"}, token=joined.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "message")
    async with read_session() as db:
        assert await db.scalar(select(func.count()).select_from(HelpRequest)) == 0


async def test_an_instructor_message_is_at_most_500_characters(gql) -> None:
    room = await make_classroom(start=True)
    error = await gql.error(MESSAGE, {"id": room.id, "m": "x" * 501}, token=room.instructor.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "message")
    assert (await gql.data(MESSAGE, {"id": room.id, "m": "x" * 500}, token=room.instructor.token)) == {
        "sendInstructorMessage": True
    }


async def test_a_participant_sees_only_themselves_and_not_other_sessions(gql) -> None:
    room = await make_classroom(steps=2, start=True)
    me, other = await join(room, "Me", "device-me-0001"), await join(room, "Other", "device-other-01")
    await gql.data(
        REPORT, {"id": room.id, "step": str(room.steps[0].id), "status": "COMPLETED"}, token=me.token
    )
    seen = (await gql.data(SESSION_BY_ID, {"id": room.id}, token=me.token))["liveSession"]
    assert [p["id"] for p in seen["participants"]] == [me.id]
    assert seen["participants"][0]["progress"] == [
        {"step": {"id": str(room.steps[0].id)}, "status": "COMPLETED", "attempts": 1}
    ]
    everyone = (await gql.data(SESSION_BY_ID, {"id": room.id}, token=room.instructor.token))["liveSession"]
    assert {p["id"] for p in everyone["participants"]} == {me.id, other.id}
    elsewhere = await make_classroom()
    assert error_code(await gql.error(SESSION_BY_ID, {"id": elsewhere.id}, token=me.token)) == "NOT_FOUND"
    student = await make_account()
    assert error_code(await gql.error(SESSION_BY_ID, {"id": room.id}, token=student.token)) == "NOT_FOUND"


async def test_a_heartbeat_keeps_a_participant_online_for_30_seconds(gql) -> None:
    # Given a participant whose last sign of life is 31 seconds old (as every api process sees it in Redis)
    room = await make_classroom(start=True)
    joined = await join(room)
    beats, _, _ = presence._presence_keys(room.session.id)
    await redis().zadd(beats, {joined.id: time.time() - 31})
    online = "query($id: ID!) { liveSession(id: $id) { participants { online lastSeenAt } } }"
    participant = (await gql.data(online, {"id": room.id}, token=room.instructor.token))["liveSession"][
        "participants"
    ][0]
    assert participant["online"] is False and participant["lastSeenAt"] is not None
    # When they send a heartbeat
    beat = await gql.data(
        "mutation($id: ID!) { heartbeat(sessionId: $id) }", {"id": room.id}, token=joined.token
    )
    # Then they are online again
    assert beat == {"heartbeat": True}
    participant = (await gql.data(online, {"id": room.id}, token=room.instructor.token))["liveSession"][
        "participants"
    ][0]
    assert participant["online"] is True


async def test_session_analytics_are_the_instructors_alone(gql) -> None:
    room = await make_classroom(steps=2, start=True)
    joined = await join(room)
    query = """
    query($id: ID!) { sessionAnalytics(sessionId: $id) {
      participantsTotal openHelpRequests steps { order } } }"""
    analytics = (await gql.data(query, {"id": room.id}, token=room.instructor.token))["sessionAnalytics"]
    assert analytics == {"participantsTotal": 1, "openHelpRequests": 0, "steps": [{"order": 1}, {"order": 2}]}
    assert error_code(await gql.error(query, {"id": room.id}, token=joined.token)) == "FORBIDDEN"
