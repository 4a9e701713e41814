"""A live session starting tells the users enrolled in its lecture (`session_starting`: in-app, push, SMS).

Started in the instructor's `control` transaction, the notifying is a job after the commit: a lecture may
have many enrolled users, and each `notify` is a few statements.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import transaction
from core.jobs import enqueue_after_commit
from models.classroom import Enrollment, LiveSession
from resolvers import notifications

SESSION_STARTING_JOB = "notification.session_starting"
# Enrolled users notified per transaction, so one lecture's crowd does not hold one long transaction.
BATCH = 100


def announce_after_commit(db: AsyncSession, session: LiveSession) -> None:
    enqueue_after_commit(
        db, SESSION_STARTING_JOB, str(session.id), job_id=f"{SESSION_STARTING_JOB}:{session.id}"
    )


async def notify_enrolled(session_id: uuid.UUID) -> int:
    """Notifies each user enrolled in the session's lecture once (a retried job adds nothing); how many
    were notified now."""
    notified, after = 0, None
    while True:
        async with transaction() as db:
            session = await db.get(LiveSession, session_id)
            if session is None:
                return notified
            statement = select(col(Enrollment.user_id)).where(
                col(Enrollment.lecture_id) == session.lecture_id
            )
            if after is not None:
                statement = statement.where(col(Enrollment.user_id) > after)
            users = list(
                (await db.execute(statement.order_by(col(Enrollment.user_id)).limit(BATCH))).scalars()
            )
            for user_id in users:
                created = await notifications.notify(
                    db,
                    user_id,
                    "session_starting",
                    variables={"session": session.title},
                    dedupe_key=f"session_starting:{session.id}:{user_id}",
                    data={"sessionId": str(session.id)},
                )
                notified += bool(created)
        if len(users) < BATCH:
            return notified
        after = users[-1]
