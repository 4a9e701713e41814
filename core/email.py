"""Sending email: one `EmailSender` interface, an SMTP sender and a sender that writes .eml files.

`email_sender()` picks from the settings: SMTP_URL → SMTP (aiosmtplib); else MAIL_DIR → .eml files
(what `studymate dev` uses, so a newcomer sees each email); else None, and email is skipped.
"""

import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    # Stable per notification, so a receiving system can tell a copy of the same email.
    message_key: str


class SendFailed(Exception):
    """A send that may work if tried again later (the server was down, busy or refused for now)."""


class EmailSender(Protocol):
    async def send(self, email: Email) -> None: ...


def build_message(email: Email, sender: str) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the preferred part."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "studymate.local"
    message["Message-ID"] = make_msgid(idstring=_safe(email.message_key), domain=domain)
    message["X-StudyMate-Notification"] = email.message_key
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", key)[:64]


class SmtpSender:
    def __init__(self, url: str, sender: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:587")
        self._host = parts.hostname
        self._implicit_tls = parts.scheme == "smtps"
        self._port = parts.port or (465 if self._implicit_tls else 587)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender
        self._timeout = timeout

    async def send(self, email: Email) -> None:
        try:
            await aiosmtplib.send(
                build_message(email, self._sender),
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._implicit_tls,
                # STARTTLS when the server offers it (port 587); a local relay without TLS still works.
                start_tls=False if self._implicit_tls else None,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise SendFailed(f"SMTP: {error}") from error


class EmlFileSender:
    """Writes each email to `directory` as an .eml file and logs its subject (development)."""

    def __init__(self, directory: Path, sender: str) -> None:
        self._directory = directory
        self._sender = sender

    async def send(self, email: Email) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"{_safe(email.message_key)}.eml"
        path.write_bytes(bytes(build_message(email, self._sender)))
        logger.info("email to %s written to %s: %s", email.to, path, email.subject)


def email_sender(settings: Settings | None = None) -> EmailSender | None:
    settings = settings or get_settings()
    if settings.smtp_url:
        return SmtpSender(settings.smtp_url, settings.email_from, settings.smtp_timeout_seconds)
    if settings.mail_dir:
        return EmlFileSender(Path(settings.mail_dir), settings.email_from)
    return None
