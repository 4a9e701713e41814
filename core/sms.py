"""SMS through Twilio's REST API with the `twilio` SDK (its aiohttp client), or text files in development.

`sms_sender()` picks from the settings: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and SMS_FROM → Twilio
(TWILIO_BASE_URL, when set, replaces `https://api.twilio.com` so tests reach a local server through the
real SDK); else SMS_DIR → one .txt file per message; else None, and SMS is skipped.
"""

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioException, TwilioRestException  # type: ignore[import-untyped]
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from core.email import SendFailed
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# Twilio's errors for a number that will never take our messages: 21610 the recipient replied STOP
# (unsubscribed), 21211 the number is not a valid phone number. The user's SMS is switched off at once.
UNREACHABLE_CODES = frozenset({21610, 21211})
# Two GSM segments of Korean text (70 characters each) and some room: longer texts are cut.
MAX_SMS_LENGTH = 320


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    # Names the file in development; the notification's id, or the verification's.
    message_key: str


class SmsOutcome(StrEnum):
    DELIVERED = "DELIVERED"
    UNREACHABLE = "UNREACHABLE"


class SmsSender(Protocol):
    async def send(self, sms: Sms) -> SmsOutcome: ...


def text_of(title: str, body: str) -> str:
    """One SMS from a notification's title and body, cut to MAX_SMS_LENGTH characters."""
    message = f"[StudyMate] {title}\n{body}".strip()
    return message if len(message) <= MAX_SMS_LENGTH else message[: MAX_SMS_LENGTH - 1].rstrip() + "…"


class _RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's own async client, with each request's scheme and host replaced by `base_url`."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self._base = urlsplit(base_url)

    async def request(self, method: str, url: str, *args: object, **kwargs: object) -> Response:
        parts = urlsplit(url)
        rebased = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment))
        return await super().request(method, rebased, *args, **kwargs)


class TwilioSender:
    def __init__(
        self, account_sid: str, auth_token: str, sender: str, base_url: str | None, timeout: float
    ) -> None:
        http_client = (
            _RebasedHttpClient(base_url, timeout)
            if base_url
            else AsyncTwilioHttpClient(pool_connections=False, timeout=timeout)
        )
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._sender = sender

    async def send(self, sms: Sms) -> SmsOutcome:
        try:
            await self._client.messages.create_async(to=sms.to, from_=self._sender, body=sms.body)
        except TwilioRestException as error:
            if error.code in UNREACHABLE_CODES:
                return SmsOutcome.UNREACHABLE
            raise SendFailed(f"Twilio answered {error.status} (code {error.code}): {error.msg}") from error
        except (TwilioException, OSError) as error:
            raise SendFailed(f"Twilio: {error}") from error
        return SmsOutcome.DELIVERED


class TextFileSender:
    """Writes each SMS to `directory` as a .txt file and logs it (development)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send(self, sms: Sms) -> SmsOutcome:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"{re.sub(r'[^A-Za-z0-9.-]', '-', sms.message_key)[:64]}.txt"
        path.write_text(f"To: {sms.to}\n\n{sms.body}\n", encoding="utf-8")
        logger.info("SMS to %s written to %s", sms.to, path)
        return SmsOutcome.DELIVERED


def sms_sender(settings: Settings | None = None) -> SmsSender | None:
    settings = settings or get_settings()
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.sms_from:
        return TwilioSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.sms_from,
            settings.twilio_base_url,
            settings.sms_timeout_seconds,
        )
    if settings.sms_dir:
        return TextFileSender(Path(settings.sms_dir))
    return None
