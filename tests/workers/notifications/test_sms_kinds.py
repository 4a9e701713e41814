"""Which kinds go by SMS: a help request resolved with a response, a session of an enrolled lecture
starting, a payment failed (tests/workers/notifications/test_sms.py)."""

import pytest
from sqlalchemy import select
from sqlmodel import col

from core.db import read_session, transaction
from models.base import utcnow
from models.notifications import Channel, Notification
from resolvers import classroom
from tests.helpers.classroom import actor, make_classroom
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import make_account
from tests.helpers.jobs import run_jobs
from tests.helpers.notification_delivery import rows, worker_context
from tests.helpers.sms import configured_sms, verified_phone
from workers.notifications import deliver

NUMBER = "+821024681357"
JOIN = """
mutation($code: String!) { joinSession(code: $code, displayName: "Grandma Lee") { participantToken } }"""
REQUEST_HELP = 'mutation($id: ID!) { requestHelp(sessionId: $id, message: "Where is the camera?") { id } }'
RESOLVE = "mutation($id: ID!, $response: String) { resolveHelpRequest(id: $id, response: $response) { id } }"


async def test_a_resolved_help_request_with_a_response_is_texted_to_the_signed_in_participant(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        senior = await make_account(name="Grandma Lee")
        await verified_phone(gql, senior, twilio, NUMBER)
        twilio.sent.clear()
        room = await make_classroom(steps=2, start=True)
        joined = (await gql.data(JOIN, {"code": room.session.code}, token=senior.token))["joinSession"]
        asked = await gql.data(REQUEST_HELP, {"id": room.id}, token=joined["participantToken"])
        request_id = asked["requestHelp"]["id"]
        # Resolved without a response: nothing to tell
        other = (await gql.data(REQUEST_HELP, {"id": room.id}, token=joined["participantToken"]))[
            "requestHelp"
        ]["id"]
        await gql.data(RESOLVE, {"id": other}, token=room.instructor.token)
        # With one: the answer goes to the senior's phone
        response = "오른쪽 위의 카메라 버튼을 누르세요"
        await gql.data(RESOLVE, {"id": request_id, "response": response}, token=room.instructor.token)
        [sms] = await rows(Channel.SMS, senior.user.id)
        assert (sms.kind, sms.dedupe_key) == ("help_resolved", f"help_resolved:{request_id}")
        assert await deliver(worker_context(utcnow()), str(sms.id)) == "sent"
    [message] = twilio.sent
    assert message["Body"] == f"[StudyMate] 선생님이 답변했습니다\n{room.session.title}: {response}"


async def test_a_session_starting_notifies_the_lectures_enrolled_users(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        enrolled, bystander = await make_account(), await make_account()
        await verified_phone(gql, enrolled, twilio, NUMBER)
        twilio.sent.clear()
        room = await make_classroom(steps=2)
        async with transaction() as db:
            await classroom.enroll(db, actor(enrolled), room.lecture.id)
        async with transaction() as db:
            await classroom.control(db, actor(room.instructor), room.session.id, classroom.Action.START)
        await run_jobs()
        await run_jobs()
        async with read_session() as db:
            found = await db.execute(select(Notification).where(col(Notification.kind) == "session_starting"))
            starting = list(found.scalars())
    assert {(n.user_id, n.channel) for n in starting} == {
        (enrolled.user.id, Channel.IN_APP),
        (enrolled.user.id, Channel.PUSH),
        (enrolled.user.id, Channel.SMS),
    }
    assert bystander.user.id not in {n.user_id for n in starting}
    [message] = twilio.sent
    assert message["To"] == NUMBER
    assert room.session.title in message["Body"]
