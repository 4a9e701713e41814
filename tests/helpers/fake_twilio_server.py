"""A local Twilio speaking its Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`, form-encoded,
with HTTP Basic auth; 201 with the message's JSON, or Twilio's error JSON.

Numbers in `unsubscribed` answer error 21610 (the recipient replied STOP), numbers in `invalid` 21211,
numbers in `failing` a 503 (Twilio down for now).
"""

import base64
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devstack import free_port
from tests.helpers.servers import serving

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
SMS_FROM = "+15005550006"


@dataclass
class FakeTwilio:
    url: str
    # Each accepted message's form: To, From, Body.
    sent: list[dict[str, str]] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)

    def codes_to(self, number: str) -> list[str]:
        """The verification codes texted to `number`, oldest first."""
        found = (re.search(r"\b\d{6}\b", m["Body"]) for m in self.sent if m["To"] == number)
        return [match.group() for match in found if match]


def _error(code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": 400,
    }
    return JSONResponse(body, status_code=400)


def _app(fake: FakeTwilio) -> Starlette:
    async def create(request: Request) -> JSONResponse:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if (
            request.path_params["sid"] != ACCOUNT_SID
            or request.headers.get("authorization") != f"Basic {expected}"
        ):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        if form["To"] in fake.unsubscribed:
            return _error(21610, "Attempt to send to unsubscribed recipient")
        if form["To"] in fake.invalid:
            return _error(21211, f"The 'To' number {form['To']} is not a valid phone number.")
        if form["To"] in fake.failing:
            return JSONResponse(
                {"code": 20500, "message": "Internal Server Error", "status": 503}, status_code=503
            )
        fake.sent.append(form)
        sid = "SM" + uuid.uuid4().hex
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "to": form["To"],
                "from": form["From"],
                "body": form["Body"],
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            },
            status_code=201,
        )

    return Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"])])


@asynccontextmanager
async def fake_twilio_server() -> AsyncIterator[FakeTwilio]:
    port = free_port()
    fake = FakeTwilio(url=f"http://127.0.0.1:{port}")
    async with serving(_app(fake), port):
        yield fake
