"""sessionEvents, helpRequests and sessionAnalytics over real websockets, in both protocols."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest

from broadcast import classroom as live
from broadcast import presence
from broadcast.events import UnknownEvent
from broadcast.hub import hub, publish
from core.auth import ParticipantActor
from core.db import transaction
from core.errors import Forbidden
from core.redis import redis
from resolvers import classroom
from resolvers.classroom import live as following_live
from tests.helpers.classroom import NEXT, SESSION_EVENTS, Classroom, actor, join, make_classroom, step_draft
from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, GraphQLClient, Subscription, subscription
from tests.helpers.factories import make_account
from tests.helpers.processes import api_process

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]

HELP_EVENTS = """
subscription($id: ID!) { helpRequests(sessionId: $id) {
  __typename
  ... on HelpRequestSnapshot { seq requests { id status message } }
  ... on HelpRequestCreated { seq request { id status message participant { id } step { id } } }
  ... on HelpRequestUpdated { seq request { id status response } }
} }"""
ANALYTICS = """
subscription($id: ID!) { sessionAnalytics(sessionId: $id) {
  participantsTotal participantsOnline openHelpRequests
  steps { order completedCount completionRate bottleneckScore }
  stuckStudents { displayName reason } computedAt
} }"""
START = "mutation($id: ID!) { startSession(id: $id) { id } }"
REPORT_COMPLETED = """
mutation($id: ID!, $s: ID!) { reportProgress(sessionId: $id, stepId: $s, status: COMPLETED) { attempts } }"""
ASK = """
mutation($id: ID!, $s: ID, $m: String) { requestHelp(sessionId: $id, stepId: $s, message: $m) { id } }"""


@asynccontextmanager
async def following(
    api_url: str, protocol: str, token: str, query: str, session_id: str
) -> AsyncIterator[Subscription]:
    async with subscription(api_url, protocol, token=token) as sub:
        await sub.start(query, {"id": session_id})
        yield sub


async def event(sub: Subscription, field: str = "sessionEvents") -> dict[str, Any]:
    data: dict[str, Any] = (await sub.next_data())[field]
    return data


def expected_step(room: Classroom, index: int) -> dict[str, Any]:
    n = index + 1
    return {
        "id": str(room.steps[index].id),
        "order": n,
        "title": f"Step {n}",
        "guideText": f"Tap the button number {n}",
        "voiceGuideText": f"Now tap button {n}",
        "targetAction": "CLICK",
        "targetHint": {"viewId": f"com.example:id/button{n}", "text": f"Button {n}"},
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_instructor_and_two_participants_follow_one_session(api_url, gql, protocol: str) -> None:
    # Given a waiting session with two participants and everyone subscribed
    room = await make_classroom(steps=3)
    ana, bo = await join(room, "Ana", "device-ana-001"), await join(room, "Bo", "device-bo-0001")
    async with AsyncExitStack() as stack:
        teacher = await stack.enter_async_context(
            following(api_url, protocol, room.instructor.token, SESSION_EVENTS, room.id)
        )
        phones = [
            await stack.enter_async_context(following(api_url, protocol, p.token, SESSION_EVENTS, room.id))
            for p in (ana, bo)
        ]
        # Then each first gets a snapshot; a participant sees only themselves in it
        snapshots = [await event(sub) for sub in (teacher, *phones)]
        assert {s["__typename"] for s in snapshots} == {"SessionSnapshot"}
        assert [p["displayName"] for p in snapshots[0]["participants"]] == ["Ana", "Bo"]
        assert [[p["id"] for p in s["participants"]] for s in snapshots[1:]] == [[ana.id], [bo.id]]
        assert (snapshots[1]["status"], snapshots[1]["currentStep"], snapshots[1]["totalSteps"]) == (
            "WAITING",
            None,
            3,
        )
        base = snapshots[0]["seq"]
        # When the instructor starts the session and moves on with a message
        await gql.data(START, {"id": room.id}, token=room.instructor.token)
        await gql.data(NEXT, {"id": room.id, "m": "Look at the top"}, token=room.instructor.token)
        # Then every phone sees the status change and each step in full, numbered without gaps
        for sub in (teacher, *phones):
            status, first, second = await event(sub), await event(sub), await event(sub)
            assert status["__typename"] == "SessionStatusChanged"
            assert (status["status"], status["previousStatus"]) == ("IN_PROGRESS", "WAITING")
            assert (first["__typename"], first["step"], first["totalSteps"], first["instructorNote"]) == (
                "StepChanged",
                expected_step(room, 0),
                3,
                None,
            )
            assert (second["step"], second["instructorNote"]) == (expected_step(room, 1), "Look at the top")
            assert [status["seq"], first["seq"], second["seq"]] == [base + 1, base + 2, base + 3]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_other_participants_progress_and_identity_are_redacted_not_skipped(
    api_url, gql, protocol: str
) -> None:
    room = await make_classroom(steps=2, start=True)
    ana = await join(room, "Ana", "device-ana-001")
    async with (
        following(api_url, protocol, room.instructor.token, SESSION_EVENTS, room.id) as teacher,
        following(api_url, protocol, ana.token, SESSION_EVENTS, room.id) as phone,
    ):
        base = (await event(teacher))["seq"]
        await event(phone)
        # When another participant joins and reports progress, and Ana reports hers
        bo = await join(room, "Bo", "device-bo-0001")
        report = REPORT_COMPLETED
        await gql.data(report, {"id": room.id, "s": str(room.steps[0].id)}, token=bo.token)
        await gql.data(report, {"id": room.id, "s": str(room.steps[0].id)}, token=ana.token)
        # Then the instructor sees who and what; Ana sees that something happened, and her own progress
        seen_by_teacher = [await event(teacher) for _ in range(3)]
        seen_by_ana = [await event(phone) for _ in range(3)]
        assert seen_by_teacher[0]["participant"] == {"id": bo.id, "displayName": "Bo"}
        assert seen_by_teacher[1]["progress"]["participant"] == {"id": bo.id}
        assert seen_by_ana[0] == {**seen_by_teacher[0], "participant": None}
        assert seen_by_ana[1]["progress"] is None
        assert seen_by_ana[2]["progress"] == {
            "status": "COMPLETED",
            "participant": {"id": ana.id},
            "step": {"id": str(room.steps[0].id)},
        }
        assert [e["seq"] for e in seen_by_ana] == [base + 1, base + 2, base + 3]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_reconnect_gets_a_fresh_snapshot(api_url, gql, protocol: str) -> None:
    room = await make_classroom(steps=3, start=True)
    ana = await join(room)
    async with following(api_url, protocol, ana.token, SESSION_EVENTS, room.id) as phone:
        first = await event(phone)
        await gql.data(NEXT, {"id": room.id}, token=room.instructor.token)
        moved = await event(phone)
    # While the phone is away, the class moves on
    await gql.data(NEXT, {"id": room.id}, token=room.instructor.token)
    async with following(api_url, protocol, ana.token, SESSION_EVENTS, room.id) as phone:
        snapshot = await event(phone)
        assert snapshot["__typename"] == "SessionSnapshot"
        assert snapshot["currentStep"] == {"id": str(room.steps[2].id)}
        assert snapshot["seq"] == moved["seq"] + 1 == first["seq"] + 2
        # And it continues from there
        await gql.data(
            "mutation($id: ID!) { previousStep(sessionId: $id) { id } }",
            {"id": room.id},
            token=room.instructor.token,
        )
        after = await event(phone)
        assert (after["seq"], after["step"]["id"]) == (snapshot["seq"] + 1, str(room.steps[1].id))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_instructor_message_reaches_every_participant(api_url, gql, protocol: str) -> None:
    room = await make_classroom(start=True)
    ana, bo = await join(room, "Ana", "device-ana-001"), await join(room, "Bo", "device-bo-0001")
    async with (
        following(api_url, protocol, ana.token, SESSION_EVENTS, room.id) as a,
        following(api_url, protocol, bo.token, SESSION_EVENTS, room.id) as b,
    ):
        await event(a), await event(b)
        message = "mutation($id: ID!, $m: String!) { sendInstructorMessage(sessionId: $id, message: $m) }"
        await gql.data(message, {"id": room.id, "m": "Take a break"}, token=room.instructor.token)
        for sub in (a, b):
            received = await event(sub)
            assert (received["__typename"], received["message"]) == ("InstructorMessage", "Take a break")


async def test_editing_the_current_step_sends_it_again(api_url) -> None:
    room = await make_classroom(steps=2, start=True)
    ana = await join(room)
    async with following(api_url, TRANSPORT_WS, ana.token, SESSION_EVENTS, room.id) as phone:
        await event(phone)
        async with transaction() as db:
            await classroom.update_step(db, actor(room.instructor), room.steps[0].id, step_draft(7))
        resent = await event(phone)
        assert (resent["__typename"], resent["step"]["id"], resent["step"]["title"]) == (
            "StepChanged",
            str(room.steps[0].id),
            "Step 7",
        )


async def test_the_stream_ends_when_the_session_ends(api_url, gql) -> None:
    room = await make_classroom(start=True)
    ana = await join(room)
    async with following(api_url, TRANSPORT_WS, ana.token, SESSION_EVENTS, room.id) as phone:
        await event(phone)
        await gql.data(
            "mutation($id: ID!) { endSession(id: $id) { id } }", {"id": room.id}, token=room.instructor.token
        )
        assert (await event(phone))["status"] == "ENDED"
        assert (await phone.receive())["type"] == "complete"


async def forbidden(
    api_url: str, protocol: str, token: str | None, query: str, session_id: str
) -> dict[str, Any]:
    async with subscription(api_url, protocol, token=token) as sub:
        await sub.start(query, {"id": session_id})
        message = await sub.receive()
    return message


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_of_outsiders_end_with_forbidden(api_url, protocol: str) -> None:
    room = await make_classroom()
    elsewhere = await make_classroom()
    outsider = await join(elsewhere)
    student = await make_account()
    participant = await join(room)
    cases = [
        (SESSION_EVENTS, outsider.token),
        (SESSION_EVENTS, student.token),
        (SESSION_EVENTS, None),
        (HELP_EVENTS, participant.token),
        (ANALYTICS, participant.token),
        (ANALYTICS, elsewhere.instructor.token),
    ]
    for query, token in cases:
        message = await forbidden(api_url, protocol, token, query, room.id)
        assert message["type"] in {"next", "data", "error"}, message
        errors = message["payload"]["errors"] if message["type"] != "error" else message["payload"]
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], (query, message)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_help_requests_stream_open_requests_then_changes(api_url, gql, protocol: str) -> None:
    room = await make_classroom(steps=2, start=True)
    ana = await join(room)
    ask = ASK
    earlier = (await gql.data(ask, {"id": room.id, "m": "Earlier"}, token=ana.token))["requestHelp"]
    async with following(api_url, protocol, room.instructor.token, HELP_EVENTS, room.id) as desk:
        snapshot = await event(desk, "helpRequests")
        assert snapshot["requests"] == [{"id": earlier["id"], "status": "PENDING", "message": "Earlier"}]
        created = (
            await gql.data(ask, {"id": room.id, "s": str(room.steps[1].id), "m": "Lost"}, token=ana.token)
        )["requestHelp"]
        arrived = await event(desk, "helpRequests")
        assert arrived == {
            "__typename": "HelpRequestCreated",
            "seq": snapshot["seq"] + 1,
            "request": {
                "id": created["id"],
                "status": "PENDING",
                "message": "Lost",
                "participant": {"id": ana.id},
                "step": {"id": str(room.steps[1].id)},
            },
        }
        resolve = 'mutation($id: ID!) { resolveHelpRequest(id: $id, response: "Scroll down") { id } }'
        await gql.data(resolve, {"id": created["id"]}, token=room.instructor.token)
        updated = await event(desk, "helpRequests")
        assert updated == {
            "__typename": "HelpRequestUpdated",
            "seq": snapshot["seq"] + 2,
            "request": {"id": created["id"], "status": "RESOLVED", "response": "Scroll down"},
        }


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_presence_follows_an_open_subscription(api_url, gql, protocol: str) -> None:
    # Given a participant with no sign of life (joining counts as one, so it is forgotten here)
    room = await make_classroom(start=True)
    ana = await join(room)
    beats, _, _ = presence._presence_keys(room.session.id)
    await redis().delete(beats)
    online = "query($id: ID!) { liveSession(id: $id) { participants { online } } }"

    async def is_online() -> bool:
        data = await gql.data(online, {"id": room.id}, token=room.instructor.token)
        return bool(data["liveSession"]["participants"][0]["online"])

    assert await is_online() is False
    async with hub().subscribe(presence.presence_channel(room.session.id)) as presence_changes:
        # When their phone subscribes, they are online
        async with following(api_url, protocol, ana.token, SESSION_EVENTS, room.id) as phone:
            await event(phone)
            assert await is_online() is True
            await anext(aiter(presence_changes))
        # And once the server has let go of the closed socket, they are offline
        async with asyncio.timeout(5):
            await anext(aiter(presence_changes))
    assert await is_online() is False


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_session_analytics_are_pushed_when_they_change_at_most_twice_a_second(
    api_url, gql, protocol: str
) -> None:
    room = await make_classroom(steps=2, start=True)
    people = [await join(room, f"Student {n}", f"device-{n:04d}") for n in range(5)]
    async with following(api_url, protocol, room.instructor.token, ANALYTICS, room.id) as dashboard:
        first = await event(dashboard, "sessionAnalytics")
        assert (first["participantsTotal"], first["openHelpRequests"], first["stuckStudents"]) == (5, 0, [])
        assert [s["completedCount"] for s in first["steps"]] == [0, 0]
        # When a burst of progress arrives
        for person in people:
            await gql.data(REPORT_COMPLETED, {"id": room.id, "s": str(room.steps[0].id)}, token=person.token)
        # Then the dashboard converges on the final figures
        pushes = [first]
        while pushes[-1]["steps"][0]["completedCount"] < 5:
            pushes.append(await event(dashboard, "sessionAnalytics"))
        final = pushes[-1]["steps"][0]
        assert (final["order"], final["completedCount"], final["completionRate"]) == (1, 5, 1.0)
        # Everyone completed and nobody asked for help: only the delay term (0.4 x the share of students who
        # took twice the median) can remain, and how the burst's completions spread depends on the machine.
        assert 0.0 <= final["bottleneckScore"] <= 0.4
        # And the server computed them at most twice a second (its own clock, not the client's receipt times)
        computed = [datetime.fromisoformat(push["computedAt"]) for push in pushes]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(computed)]
        assert all(gap >= 0.5 for gap in gaps), gaps


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_api_processes_behave_as_one(api_url, gql, protocol: str) -> None:
    # Given participants on two api processes and the instructor driving through the first
    room = await make_classroom(steps=3, start=True)
    ana, bo = await join(room, "Ana", "device-ana-001"), await join(room, "Bo", "device-bo-0001")
    async with api_process() as other_url, httpx.AsyncClient(base_url=other_url, timeout=30) as http:
        other = GraphQLClient(http)
        async with (
            following(api_url, protocol, ana.token, SESSION_EVENTS, room.id) as here,
            following(other_url, protocol, bo.token, SESSION_EVENTS, room.id) as there,
        ):
            base = (await event(here))["seq"]
            assert (await event(there))["seq"] == base
            # When the instructor moves on through one process and messages through the other
            await gql.data(NEXT, {"id": room.id}, token=room.instructor.token)
            message = "mutation($id: ID!, $m: String!) { sendInstructorMessage(sessionId: $id, message: $m) }"
            await other.data(message, {"id": room.id, "m": "Everyone OK?"}, token=room.instructor.token)
            # Then both see the same events in the same order with the same numbers
            for sub in (here, there):
                moved, said = await event(sub), await event(sub)
                assert (moved["seq"], moved["step"]["id"]) == (base + 1, str(room.steps[1].id))
                assert (said["seq"], said["message"]) == (base + 2, "Everyone OK?")
            # And presence held by the second process is visible through the first
            online = "query($id: ID!) { liveSession(id: $id) { participants { displayName online } } }"
            seen = await gql.data(online, {"id": room.id}, token=room.instructor.token)
            assert {p["displayName"]: p["online"] for p in seen["liveSession"]["participants"]} == {
                "Ana": True,
                "Bo": True,
            }


async def test_sequence_numbers_stay_gapless_under_concurrent_publishers(api_url) -> None:
    # (api_url: the app's lifespan starts the process's hub)
    room = await make_classroom(start=True)
    stream = live.session_stream(room.session.id)
    async with stream.subscribe() as (seq, events):
        await asyncio.gather(*(stream.publish(live.InstructorMessage(message=str(n))) for n in range(50)))
        received = [await anext(events) for _ in range(50)]
    assert [e.seq for e in received] == list(range(seq + 1, seq + 51))


async def test_an_event_of_an_unknown_type_is_refused_loudly_not_guessed_at(api_url) -> None:
    # Given a subscriber of a session's stream
    room = await make_classroom(start=True)
    stream = live.session_stream(room.session.id)
    async with stream.subscribe() as (seq, events):
        # When a message of a type no event class declares arrives on the channel
        await publish(stream.channel, {"type": "Mystery", "seq": seq + 1, "at": "2026-01-01T00:00:00+00:00"})
        # Then reading it fails naming the type, instead of turning it into some other event
        with pytest.raises(UnknownEvent, match="Mystery"):
            await anext(events)


async def test_followers_are_authorised_before_any_channel_is_subscribed(api_url) -> None:
    # Given a running session, a stranger and one of its participants
    room = await make_classroom(start=True)
    stranger = actor(await make_account())
    participant = ParticipantActor((await join(room)).participant.id, room.session.id)
    channels = hub().channel_count
    # When they try to follow what is not theirs
    refused = [
        following_live.follow_session(stranger, room.session.id),
        following_live.follow_session(None, room.session.id),
        following_live.follow_help_requests(participant, room.session.id),
        following_live.follow_analytics(participant, room.session.id),
    ]
    for attempt in refused:
        with pytest.raises(Forbidden):
            await attempt
    # Then they are refused before the process subscribed to anything
    assert hub().channel_count == channels


OWN_PROGRESS = """
subscription($id: ID!) { sessionEvents(sessionId: $id) {
  __typename
  ... on ProgressUpdated { progress { participant { displayName user { id email } } } }
} }"""


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_signed_in_participant_sees_their_own_email_in_their_own_changes(
    api_url, gql, protocol: str
) -> None:
    # Given a student who joined signed in, another who did too, and both following beside the instructor
    room = await make_classroom(steps=2, start=True)
    students = [await make_account(), await make_account()]
    async with transaction() as db:
        for n, student in enumerate(students):
            await classroom.join_session(db, actor(student), room.session.code, f"Ana {n}", None, "10.0.0.1")
    async with (
        following(api_url, protocol, students[0].token, OWN_PROGRESS, room.id) as own,
        following(api_url, protocol, students[1].token, OWN_PROGRESS, room.id) as classmate,
        following(api_url, protocol, room.instructor.token, OWN_PROGRESS, room.id) as instructor,
    ):
        for sub in (own, classmate, instructor):
            assert (await event(sub))["__typename"] == "SessionSnapshot"
        # When the first reports progress
        step = str(room.steps[0].id)
        await gql.data(REPORT_COMPLETED, {"id": room.id, "s": step}, token=students[0].token)
        # Then the change shows them their own email, the instructor the student without it, and the
        # classmate nothing of the student
        user = {"id": students[0].id, "email": students[0].user.email}
        assert (await event(own))["progress"]["participant"] == {"displayName": "Ana 0", "user": user}
        seen_by_instructor = (await event(instructor))["progress"]["participant"]
        assert seen_by_instructor == {"displayName": "Ana 0", "user": {**user, "email": ""}}
        assert (await event(classmate)) == {"__typename": "ProgressUpdated", "progress": None}
