"""Help diagnosis seen from a test: the operations, a participant's phone activity on a step (with a
password typed midway), and an LLM that diagnoses. Shared by the schema and worker tests."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from core.db import read_session
from models.classroom import HelpRequest

ASK = """
mutation($id: ID!, $s: ID, $m: String) { requestHelp(sessionId: $id, stepId: $s, message: $m) {
  id diagnosis { attempts secondsOnStep stepsBehind problem model } } }"""
RESOLVE = 'mutation($id: ID!) { resolveHelpRequest(id: $id, response: "Top right") { id status } }'
RATE = "mutation($id: ID!, $r: Int!) { rateHelp(id: $id, rating: $r) { id status rating } }"
DIAGNOSIS = "attempts secondsOnStep stepsBehind problem suggestedHelp helpType confidence model"
HELP_EVENTS = f"""
subscription($id: ID!) {{ helpRequests(sessionId: $id) {{
  __typename
  ... on HelpRequestSnapshot {{ seq requests {{ id }} }}
  ... on HelpRequestCreated {{ seq request {{ id status diagnosis {{ {DIAGNOSIS} }} }} }}
  ... on HelpRequestUpdated {{ seq request {{ id status diagnosis {{ {DIAGNOSIS} }} }} }}
}} }}"""
SECRET = "hunter2-grandmas-password"
PACKAGE = "com.kakao.talk"
ADVICE = {
    "problem": "Looks for the send button in the wrong corner.",
    "suggested_help": "Show the yellow arrow at the bottom right and tap it together.",
    "help_type": "OVERLAY",
    "confidence": 0.8,
}


def diagnosing_llm(prompt: str) -> str:
    """A well-behaved LLM: the same advice for every request."""
    return json.dumps(ADVICE)


def phone_activity(session_id: str, step_id: str) -> list[dict[str, Any]]:
    """What the phone logged on the step: a tap, a password typed (flagged three ways) and noise."""
    t0 = datetime.now(UTC) - timedelta(seconds=40)

    def event(seconds: float, event_type: str, **data: Any) -> dict[str, Any]:
        return {
            "eventId": str(uuid.uuid4()),
            "eventType": event_type,
            "occurredAt": (t0 + timedelta(seconds=seconds)).isoformat(),
            "sessionId": session_id,
            "stepId": step_id,
            "data": {"packageName": PACKAGE, **data},
        }

    return [
        event(0.0, "TYPE_VIEW_CLICKED", viewId=f"{PACKAGE}:id/tab_chats", text="Chats"),
        event(2.0, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/login", text=SECRET, isPassword=True),
        event(3.0, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/pin", text=SECRET, isSensitive=True),
        event(4.0, "TYPE_VIEW_TEXT_CHANGED", viewId=f"{PACKAGE}:id/password_box", text=SECRET),
        event(5.0, "TYPE_WINDOW_CONTENT_CHANGED", text="Loading"),
        event(6.0, "TYPE_VIEW_LONG_CLICKED", viewId=f"{PACKAGE}:id/bubble", text="Hello Mom"),
    ]


async def stored_diagnosis(request_id: str) -> dict[str, Any] | None:
    async with read_session() as db:
        request = await db.get(HelpRequest, uuid.UUID(request_id))
    assert request is not None
    return request.diagnosis
