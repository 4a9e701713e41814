"""Help diagnosis over the api: the diagnosis pushed on `helpRequests` over a real websocket, `rateHelp`
and its rules, and the help figures of `sessionAnalytics`."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.db import read_session, transaction
from models.classroom import HelpRequest
from tests.helpers.classroom import Classroom, Joined, join, make_classroom
from tests.helpers.client import TRANSPORT_WS, error_code, subscription
from tests.helpers.db import count_queries
from tests.helpers.factories import make_account
from tests.helpers.fake_ai_server import FakeAiServer, fake_ai_server, grant, point_providers_at
from tests.helpers.help_diagnosis import ADVICE, ASK, HELP_EVENTS, RATE, RESOLVE, diagnosing_llm
from tests.helpers.jobs import run_jobs

HELP_FIGURES = """
query($id: ID!) { sessionAnalytics(sessionId: $id) { openHelpRequests averageHelpRating
  medianSecondsToResolve } }"""


@pytest.fixture
async def fake_ai(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeAiServer]:
    async with fake_ai_server(diagnosing_llm) as fake:
        point_providers_at(monkeypatch, fake)
        grant(monkeypatch, "anthropic")
        yield fake


async def asked(gql, room: Classroom, joined: Joined, step: int = 0) -> str:
    answer = await gql.data(
        ASK, {"id": room.id, "s": str(room.steps[step].id), "m": "Lost"}, token=joined.token
    )
    request_id: str = answer["requestHelp"]["id"]
    return request_id


async def resolved(gql, room: Classroom, joined: Joined) -> str:
    request_id = await asked(gql, room, joined)
    await gql.data(RESOLVE, {"id": request_id}, token=room.instructor.token)
    return request_id


async def stored_rating(request_id: str) -> int | None:
    async with read_session() as db:
        request = await db.get(HelpRequest, uuid.UUID(request_id))
    assert request is not None
    return request.rating


async def test_the_diagnosis_arrives_on_the_instructors_help_stream(api_url, gql, fake_ai) -> None:
    # Given the instructor following the session's help requests, and an AI provider (Anthropic)
    room = await make_classroom(steps=2, start=True)
    ana = await join(room)
    async with subscription(api_url, TRANSPORT_WS, token=room.instructor.token) as desk:
        await desk.start(HELP_EVENTS, {"id": room.id})
        snapshot = (await desk.next_data())["helpRequests"]
        # When a participant asks for help on a step
        request_id = await asked(gql, room, ana)
        created = (await desk.next_data())["helpRequests"]
        # Then the request comes first with the measured figures only
        assert created["__typename"] == "HelpRequestCreated"
        assert created["request"]["diagnosis"] == {
            "attempts": 1,
            "secondsOnStep": 0,
            "stepsBehind": 0,
            "problem": None,
            "suggestedHelp": None,
            "helpType": None,
            "confidence": None,
            "model": None,
        }
        # And once the worker has run, the AI's diagnosis follows as an update
        await run_jobs()
        updated = (await desk.next_data())["helpRequests"]
    assert updated == {
        "__typename": "HelpRequestUpdated",
        "seq": snapshot["seq"] + 2,
        "request": {
            "id": request_id,
            "status": "PENDING",
            "diagnosis": {
                "attempts": 1,
                "secondsOnStep": 0,
                "stepsBehind": 0,
                "problem": ADVICE["problem"],
                "suggestedHelp": ADVICE["suggested_help"],
                "helpType": "OVERLAY",
                "confidence": 0.8,
                "model": "claude-haiku-4-5",
            },
        },
    }
    assert [api for api, _ in fake_ai.requests] == ["anthropic"]
    assert fake_ai.requests[0][1]["tool_choice"] == {"type": "tool", "name": "HelpAdvice"}


async def test_a_diagnosis_after_the_resolution_is_still_pushed(api_url, gql) -> None:
    # Given a request resolved before its diagnosis (no AI: the rules diagnose)
    room = await make_classroom(steps=1, start=True)
    ana = await join(room)
    request_id = await resolved(gql, room, ana)
    async with subscription(api_url, TRANSPORT_WS, token=room.instructor.token) as desk:
        await desk.start(HELP_EVENTS, {"id": room.id})
        assert (await desk.next_data())["helpRequests"]["requests"] == []
        # When the diagnosis arrives
        await run_jobs()
        updated = (await desk.next_data())["helpRequests"]
    # Then the instructor's client gets it with the request as it is, resolved
    assert (updated["request"]["id"], updated["request"]["status"]) == (request_id, "RESOLVED")
    assert updated["request"]["diagnosis"]["model"] == "rules"


async def test_the_participant_rates_resolved_help_once(gql) -> None:
    room = await make_classroom(steps=1, start=True)
    ana = await join(room)
    request_id = await resolved(gql, room, ana)
    rated = await gql.data(RATE, {"id": request_id, "r": 4}, token=ana.token)
    assert rated == {"rateHelp": {"id": request_id, "status": "RESOLVED", "rating": 4}}
    again = await gql.error(RATE, {"id": request_id, "r": 5}, token=ana.token)
    assert error_code(again) == "CONFLICT"
    assert await stored_rating(request_id) == 4


@pytest.mark.parametrize("rating", [0, 6, -1])
async def test_a_rating_outside_one_to_five_is_bad_input_and_stores_nothing(gql, rating: int) -> None:
    room = await make_classroom(steps=1, start=True)
    ana = await join(room)
    request_id = await resolved(gql, room, ana)
    error = await gql.error(RATE, {"id": request_id, "r": rating}, token=ana.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "rating")
    assert await stored_rating(request_id) is None


async def test_help_not_yet_resolved_cannot_be_rated(gql) -> None:
    room = await make_classroom(steps=1, start=True)
    ana = await join(room)
    request_id = await asked(gql, room, ana)
    assert error_code(await gql.error(RATE, {"id": request_id, "r": 5}, token=ana.token)) == "CONFLICT"
    acknowledge = "mutation($id: ID!) { acknowledgeHelpRequest(id: $id) { id } }"
    await gql.data(acknowledge, {"id": request_id}, token=room.instructor.token)
    assert error_code(await gql.error(RATE, {"id": request_id, "r": 5}, token=ana.token)) == "CONFLICT"
    assert await stored_rating(request_id) is None


async def test_only_the_participant_who_asked_may_rate(gql) -> None:
    # Given Ana's resolved request, another participant, the instructor, a stranger and nobody
    room = await make_classroom(steps=1, start=True)
    ana, bo = await join(room, "Ana"), await join(room, "Bo")
    elsewhere = await join(await make_classroom(steps=1, start=True), "Cy")
    request_id = await resolved(gql, room, ana)
    stranger = await make_account()
    cases = [
        (bo.token, "NOT_FOUND"),
        (elsewhere.token, "NOT_FOUND"),
        (stranger.token, "NOT_FOUND"),
        (room.instructor.token, "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ]
    # When each of them rates it, Then each is refused and nothing is stored
    for token, code in cases:
        error = await gql.error(RATE, {"id": request_id, "r": 1}, token=token)
        assert error_code(error) == code, token
    assert await stored_rating(request_id) is None
    unknown = await gql.error(RATE, {"id": str(uuid.uuid4()), "r": 1}, token=ana.token)
    assert error_code(unknown) == "NOT_FOUND"


async def test_analytics_show_no_help_figures_before_any_rating_or_resolution(gql) -> None:
    room = await make_classroom(steps=1, start=True)
    await asked(gql, room, await join(room))
    figures = (await gql.data(HELP_FIGURES, {"id": room.id}, token=room.instructor.token))["sessionAnalytics"]
    assert figures == {"openHelpRequests": 1, "averageHelpRating": None, "medianSecondsToResolve": None}


async def test_analytics_show_the_average_rating_and_median_time_to_resolve(gql) -> None:
    # Given three resolved requests, taking 30 s, 60 s and 300 s, two of them rated, and one open request
    room = await make_classroom(steps=1, start=True)
    people = [await join(room, f"Student {n}") for n in range(4)]
    ids = [await resolved(gql, room, person) for person in people[:3]]
    await asked(gql, room, people[3])
    async with transaction() as db:
        for request_id, seconds in zip(ids, (30, 60, 300), strict=True):
            await db.execute(
                update(HelpRequest)
                .where(HelpRequest.id == uuid.UUID(request_id))  # type: ignore[arg-type]
                .values(resolved_at=HelpRequest.created_at + timedelta(seconds=seconds))
            )
    await gql.data(RATE, {"id": ids[0], "r": 5}, token=people[0].token)
    await gql.data(RATE, {"id": ids[1], "r": 2}, token=people[1].token)
    # When the instructor reads the analytics
    figures = (await gql.data(HELP_FIGURES, {"id": room.id}, token=room.instructor.token))["sessionAnalytics"]
    # Then the rating is the mean of the two ratings and the median the middle resolution time
    assert figures == {"openHelpRequests": 1, "averageHelpRating": 3.5, "medianSecondsToResolve": 60.0}


async def test_the_help_figures_cost_no_statement_per_request(gql) -> None:
    # Given one session with one rated request and another with five
    rooms = []
    for count in (1, 5):
        room = await make_classroom(steps=2, start=True)
        for n in range(count):
            person = await join(room, f"Student {n}")
            request_id = await resolved(gql, room, person)
            await gql.data(RATE, {"id": request_id, "r": 3}, token=person.token)
        rooms.append(room)
    # When the instructor reads each session's analytics, Then both cost the same statements
    counts = []
    for room in rooms:
        with count_queries() as statements:
            figures = await gql.data(HELP_FIGURES, {"id": room.id}, token=room.instructor.token)
        assert figures["sessionAnalytics"]["averageHelpRating"] == 3.0
        counts.append(len(statements))
    assert counts[0] == counts[1]
