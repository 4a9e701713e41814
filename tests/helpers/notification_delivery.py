"""What the delivery tests share: email and push pointed at local servers, notifications made by the
pipeline, rows read back, and the worker's delivery job run with a clock of the test's choosing."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from core.db import read_session, transaction
from core.email import email_sender
from core.push import push_sender
from core.settings import get_settings
from models.accounts import User
from models.notifications import Channel, Notification
from resolvers import notifications
from tests.helpers.fake_fcm_server import PROJECT_ID, FakeFcm, fake_fcm_server
from tests.helpers.mail_server import MailServer, smtp_server


@asynccontextmanager
async def configured_email(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MailServer]:
    async with smtp_server() as server:
        monkeypatch.setattr(get_settings(), "smtp_url", server.url)
        monkeypatch.setattr(get_settings(), "email_from", "StudyMate <no-reply@studymate.test>")
        yield server


@asynccontextmanager
async def configured_push(monkeypatch: pytest.MonkeyPatch, directory: Path) -> AsyncIterator[FakeFcm]:
    async with fake_fcm_server(directory) as fake:
        settings = get_settings()
        monkeypatch.setattr(settings, "fcm_credentials_file", str(fake.credentials_file))
        monkeypatch.setattr(settings, "fcm_project_id", PROJECT_ID)
        monkeypatch.setattr(settings, "fcm_base_url", fake.url)
        yield fake


def worker_context(now: datetime) -> dict[str, Any]:
    """A worker's context as its jobs see it, with the senders of the current settings and a fixed clock."""
    return {"clock": lambda: now, "email_sender": email_sender(), "push_sender": push_sender()}


async def set_profile(user_id: uuid.UUID, *, timezone: str = "UTC", language: str = "ko") -> None:
    async with transaction() as db:
        user = await db.get(User, user_id)
        assert user is not None
        user.timezone, user.language = timezone, language


async def notify(
    user_id: uuid.UUID, kind: str, key: str, now: datetime | None = None, **variables: object
) -> list[Notification]:
    async with transaction() as db:
        return await notifications.notify(
            db, user_id, kind, variables=dict(variables), dedupe_key=key, now=now
        )


async def rows(channel: Channel, user_id: uuid.UUID | None = None) -> list[Notification]:
    async with read_session() as db:
        statement = select(Notification).where(col(Notification.channel) == channel.value)
        if user_id is not None:
            statement = statement.where(col(Notification.user_id) == user_id)
        return list((await db.execute(statement.order_by(col(Notification.created_at)))).scalars())
