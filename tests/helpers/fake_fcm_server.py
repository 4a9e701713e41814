"""A local FCM: the OAuth2 token endpoint of a service account and HTTP v1 `messages:send`.

Tokens in `unregistered` answer UNREGISTERED, as FCM does for an app that was uninstalled; tokens in
`failing` answer 503.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devstack import free_port
from tests.helpers.servers import serving

ACCESS_TOKEN = "fake-fcm-access-token"
PROJECT_ID = "studymate-test"


@dataclass
class FakeFcm:
    url: str
    credentials_file: Path
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    unregistered: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)


def _service_account(path: Path, token_uri: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT_ID,
                "private_key_id": "test-key",
                "private_key": pem,
                "client_email": f"push@{PROJECT_ID}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )


def _app(fake: FakeFcm) -> Starlette:
    async def token(request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        assert form["assertion"][0].count(".") == 2  # a signed JWT
        fake.token_requests += 1
        return JSONResponse({"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"})

    async def send(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return JSONResponse({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status_code=401)
        body = await request.body()
        assert len(body) < 4096
        message = json.loads(body)["message"]
        if message["token"] in fake.unregistered:
            error = {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "UNREGISTERED",
                    }
                ],
            }
            return JSONResponse({"error": error}, status_code=404)
        if message["token"] in fake.failing:
            return JSONResponse({"error": {"code": 503, "status": "UNAVAILABLE"}}, status_code=503)
        fake.sent.append(message)
        return JSONResponse({"name": f"projects/{PROJECT_ID}/messages/{len(fake.sent)}"})

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route(f"/v1/projects/{PROJECT_ID}/messages:send", send, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def fake_fcm_server(directory: Path) -> AsyncIterator[FakeFcm]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fake = FakeFcm(url=url, credentials_file=directory / "fcm-service-account.json")
    _service_account(fake.credentials_file, f"{url}/token")
    async with serving(_app(fake), port):
        yield fake
