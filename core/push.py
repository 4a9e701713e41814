"""Push through FCM HTTP v1: an OAuth2 token from a service account (google-auth), requests with httpx.

`push_sender()` is None unless FCM_CREDENTIALS_FILE and FCM_PROJECT_ID are set; push is then skipped.
"""

import asyncio
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import httpx
from google.auth import transport
from google.auth.exceptions import TransportError
from google.oauth2 import service_account

from core.email import SendFailed
from core.settings import Settings, get_settings

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# FCM refuses a message whose payload is over 4 KB; ours stays under it with room for the envelope.
MAX_PAYLOAD_BYTES = 4000


@dataclass(frozen=True)
class Push:
    title: str
    body: str
    data: dict[str, str]


class PushOutcome(StrEnum):
    DELIVERED = "DELIVERED"
    # FCM will never deliver to these tokens again: they are deactivated at once.
    UNREGISTERED = "UNREGISTERED"
    INVALID_TOKEN = "INVALID_TOKEN"


class PushSender(Protocol):
    async def send(self, token: str, push: Push) -> PushOutcome: ...


def message_of(token: str, push: Push) -> dict[str, Any]:
    """The FCM message, its body shortened until the whole payload fits in MAX_PAYLOAD_BYTES."""
    body = push.body
    while True:
        message = {
            "token": token,
            "notification": {"title": push.title[:200], "body": body},
            "data": push.data,
            "android": {"priority": "high"},
        }
        size = len(json.dumps({"message": message}, ensure_ascii=False).encode())
        if size <= MAX_PAYLOAD_BYTES or not body:
            return message
        # Cut by the excess in bytes (each character is at least one), keeping whole characters.
        body = body[: max(0, len(body) - (size - MAX_PAYLOAD_BYTES) - 1)].rstrip() + "…"
        if len(body) <= 1:
            body = ""


class _HttpxRequest(transport.Request):
    """google-auth's transport interface over httpx, for the token refresh (run in a thread)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> transport.Response:
        try:
            with httpx.Client(timeout=timeout or self._timeout) as client:
                response = client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise TransportError(str(error)) from error  # type: ignore[no-untyped-call]
        return _HttpxResponse(response)


class _HttpxResponse(transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


def _token_gone(payload: dict[str, Any]) -> PushOutcome | None:
    """The reason to deactivate the token, when FCM's error says it is unregistered or invalid."""
    error = payload.get("error") or {}
    details = error.get("details") or []
    codes = {detail.get("errorCode") for detail in details if isinstance(detail, dict)}
    if "UNREGISTERED" in codes:
        return PushOutcome.UNREGISTERED
    if "INVALID_ARGUMENT" in codes or error.get("status") == "INVALID_ARGUMENT":
        fields = {
            violation.get("field")
            for detail in details
            if isinstance(detail, dict)
            for violation in detail.get("fieldViolations") or []
        }
        if "message.token" in fields or "registration token" in str(error.get("message", "")).lower():
            return PushOutcome.INVALID_TOKEN
    return None


class FcmSender:
    def __init__(self, credentials_file: str, project_id: str, base_url: str, timeout: float) -> None:
        self._credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            credentials_file, scopes=[SCOPE]
        )
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._timeout = timeout
        self._refreshing = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=timeout)

    async def _access_token(self, *, renew: bool = False) -> str:
        async with self._refreshing:
            if renew or not self._credentials.valid:
                try:
                    await asyncio.to_thread(self._credentials.refresh, _HttpxRequest(self._timeout))
                except Exception as error:
                    raise SendFailed(f"FCM token: {error}") from error
            return str(self._credentials.token)

    async def send(self, token: str, push: Push) -> PushOutcome:
        body = {"message": message_of(token, push)}
        response = await self._post(body, await self._access_token())
        if response.status_code == 401:
            # The token expired early or was revoked: one more try with a fresh one.
            response = await self._post(body, await self._access_token(renew=True))
        if response.status_code == 200:
            return PushOutcome.DELIVERED
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        gone = _token_gone(payload if isinstance(payload, dict) else {})
        if gone is not None:
            return gone
        raise SendFailed(f"FCM answered {response.status_code}: {response.text[:200]}")

    async def _post(self, body: dict[str, Any], access_token: str) -> httpx.Response:
        try:
            return await self._http.post(
                self._url, json=body, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as error:
            raise SendFailed(f"FCM: {error}") from error

    async def aclose(self) -> None:
        await self._http.aclose()


def push_sender(settings: Settings | None = None) -> FcmSender | None:
    settings = settings or get_settings()
    if not (settings.fcm_credentials_file and settings.fcm_project_id):
        return None
    return FcmSender(
        settings.fcm_credentials_file,
        settings.fcm_project_id,
        settings.fcm_base_url,
        settings.fcm_timeout_seconds,
    )
