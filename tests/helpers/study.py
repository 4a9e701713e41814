"""Study activity made the way the app makes it: through `record_activity`, the one entry point that
summaries, quizzes and learning sessions call."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from core.auth import Role, UserActor
from core.db import read_session, transaction
from models.notifications import Notification
from models.study import ActivityKind, Subject
from resolvers import accounts
from resolvers.study import subjects
from resolvers.study.activity import record_activity
from tests.helpers.factories import Account


def actor(account: Account) -> UserActor:
    return UserActor(account.user.id, account.user.role)


async def make_subject(name: str = "Chemistry") -> Subject:
    draft = subjects.SubjectDraft(name=name, category="Science")
    async with transaction() as db:
        return await subjects.create_subject(db, UserActor(uuid.uuid4(), Role.ADMIN), draft)


async def set_timezone(account: Account, zone: str) -> None:
    async with transaction() as db:
        await accounts.update_profile(db, actor(account), accounts.ProfileChanges(timezone=zone))


async def record(
    account: Account,
    subject: Subject,
    kind: ActivityKind,
    occurred_at: datetime,
    *,
    topic: str | None = None,
    score: float | None = None,
    minutes: int = 0,
    source_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Records one activity in its own transaction; returns its source id (a new one unless given)."""
    source_id = source_id or uuid.uuid4()
    async with transaction() as db:
        await record_activity(
            db,
            user_id=account.user.id,
            subject_id=subject.id,
            kind=kind,
            source_id=source_id,
            occurred_at=occurred_at,
            topic=topic,
            score=score,
            minutes=minutes,
        )
    return source_id


async def notifications_of(account: Account) -> list[tuple[str, str | None]]:
    """The user's notifications as (kind, dedupe key), oldest first."""
    async with read_session() as db:
        rows = await db.execute(
            select(col(Notification.kind), col(Notification.dedupe_key))
            .where(col(Notification.user_id) == account.user.id)
            .order_by(col(Notification.created_at))
        )
        return [(kind, dedupe_key) for kind, dedupe_key in rows]
