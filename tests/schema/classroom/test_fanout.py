"""sessionEvents after the snapshot: executed once per cohort and sent as one frame, over real websockets in
both protocols; snapshots, redaction, documents and variables stay each subscriber's own."""

import json
from contextlib import AsyncExitStack
from typing import Any

from tests.helpers.classroom import NEXT, SESSION_EVENTS, join, make_classroom
from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, Subscription, subscription
from tests.helpers.fanout import executions, next_frame, phones, seat_participants

BOTH = (TRANSPORT_WS, LEGACY_WS)
PHONES = 1000
REPORT = """
mutation($id: ID!, $s: ID!) { reportProgress(sessionId: $id, stepId: $s, status: COMPLETED) { attempts } }"""
TITLES_ONLY = """
subscription Titles($id: ID!) { sessionEvents(sessionId: $id) {
  __typename ... on SessionSnapshot { seq } ... on StepChanged { seq step { title } } } }"""


def event_of(frame: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(frame)["payload"]["data"]["sessionEvents"]
    return data


async def started(sub: Subscription, query: str, session_id: str) -> dict[str, Any]:
    await sub.start(query, {"id": session_id})
    return (await sub.next_data())["sessionEvents"]


async def test_a_thousand_identical_participant_subscriptions_cost_two_executions_per_step(
    api_url, gql
) -> None:
    # Given an instructor and a thousand participants following one session, in both protocols
    room = await make_classroom(steps=3, start=True)
    tokens = await seat_participants(room.session.id, PHONES)
    variables = {"id": room.id}
    async with (
        subscription(api_url, TRANSPORT_WS, token=room.instructor.token) as teacher,
        phones(api_url, tokens, BOTH, SESSION_EVENTS, variables) as subs,
    ):
        base = (await started(teacher, SESSION_EVENTS, room.id))["seq"]
        before = executions("sessionEvents", "StepChanged")
        # When the instructor moves on twice
        for _ in range(2):
            await gql.data(NEXT, variables, token=room.instructor.token)
        # Then every phone gets both steps, numbered without gaps, in one identical frame per protocol
        for index in (1, 2):
            frames = [await next_frame(sub) for sub in subs]
            events = [event_of(frame) for frame in frames]
            assert {(e["seq"], e["step"]["id"]) for e in events} == {
                (base + index, str(room.steps[index].id))
            }
            assert {sub.protocol: frame for sub, frame in zip(subs, frames, strict=True)}.keys() == set(BOTH)
            assert len({frame for frame in frames}) == len(BOTH)
            assert event_of(await next_frame(teacher))["seq"] == base + index
        # And the selection ran once for the participants' cohort and once for the instructor's, per step
        assert executions("sessionEvents", "StepChanged") - before <= 2 * 2


async def test_instructor_and_participants_get_their_own_redacted_or_full_frames(api_url, gql) -> None:
    room = await make_classroom(steps=2, start=True)
    ana, bo, cy = [await join(room, name, f"device-{name}-0001") for name in ("Ana", "Bo", "Cy")]
    async with AsyncExitStack() as stack:
        subs = {
            who: await stack.enter_async_context(subscription(api_url, protocol, token=token))
            for who, protocol, token in (
                ("teacher", LEGACY_WS, room.instructor.token),
                ("ana", TRANSPORT_WS, ana.token),
                ("bo", LEGACY_WS, bo.token),
                ("cy", TRANSPORT_WS, cy.token),
            )
        }
        for sub in subs.values():
            await started(sub, SESSION_EVENTS, room.id)
        before = executions("sessionEvents", "ProgressUpdated")
        # When Bo completes a step
        await gql.data(REPORT, {"id": room.id, "s": str(room.steps[0].id)}, token=bo.token)
        seen = {who: event_of(await next_frame(sub)) for who, sub in subs.items()}
        # Then the instructor and Bo see whose progress it is; Ana and Cy, in another cohort, see null
        assert seen["teacher"]["progress"]["participant"] == {"id": bo.id}
        assert seen["bo"]["progress"] == seen["teacher"]["progress"]
        assert seen["ana"]["progress"] is None and seen["cy"]["progress"] is None
        assert len({e["seq"] for e in seen.values()}) == 1
        # And it ran once per audience: the instructor's, Bo's own, and the other participants'
        assert executions("sessionEvents", "ProgressUpdated") - before == 3


async def test_documents_and_variables_are_never_mixed_up(api_url, gql) -> None:
    # Given two sessions, and phones on each with two different documents
    first, second = await make_classroom(steps=3, start=True), await make_classroom(steps=3, start=True)
    tokens = {room.id: await seat_participants(room.session.id, 4) for room in (first, second)}
    async with AsyncExitStack() as stack:
        subs: dict[tuple[str, str], list[Subscription]] = {}
        for room in (first, second):
            for name, query in (("full", SESSION_EVENTS), ("titles", TITLES_ONLY)):
                subs[room.id, name] = [
                    await stack.enter_async_context(subscription(api_url, protocol, token=token))
                    for protocol, token in zip(
                        BOTH, tokens[room.id][:2] if name == "full" else tokens[room.id][2:], strict=True
                    )
                ]
                for sub in subs[room.id, name]:
                    await started(sub, query, room.id)
        # When each session moves on
        await gql.data(NEXT, {"id": first.id}, token=first.instructor.token)
        await gql.data(NEXT, {"id": second.id}, token=second.instructor.token)
        # Then each phone gets its own session's step in the shape its document asked for
        for room in (first, second):
            step = room.steps[1]
            for sub in subs[room.id, "full"]:
                event = event_of(await next_frame(sub))
                assert (event["step"]["id"], event["step"]["guideText"]) == (str(step.id), step.guide_text)
            for sub in subs[room.id, "titles"]:
                assert event_of(await next_frame(sub))["step"] == {"title": step.title}
