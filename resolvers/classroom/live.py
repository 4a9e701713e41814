"""What a live subscription reads: authorised first, then a snapshot and the typed events after it.

Each `follow_*` function authorises the actor before anything is subscribed (FORBIDDEN for anyone
else, known session ids or not) and answers an async iterator. Session events: a participant's open
stream holds a presence lease; the stream ends after the session has ENDED. Events are published only
after the commit (`emit`), through broadcast/classroom.py.

The event and view classes of broadcast/classroom.py are re-exported here: the schema converts them to
GraphQL types and reaches broadcast/ only through this module.
"""

import uuid
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.classroom import (
    HelpChange,
    HelpDiagnosis,
    HelpRequestCreated,
    HelpRequestUpdated,
    HelpRequestView,
    InstructorMessage,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantView,
    ProgressUpdated,
    ProgressView,
    SessionChange,
    SessionStatusChanged,
    StepChanged,
    StepView,
    help_stream,
    session_stream,
)
from broadcast.events import BroadcastEvent
from broadcast.hub import Resubscribe
from broadcast.presence import Presence, presence, presence_channel, presence_lease
from broadcast.streams import SequencedStream, throttled_feed
from core.auth import Actor, UserActor
from core.coalesce import Coalesced
from core.db import after_commit, read_session
from core.errors import Forbidden
from models.base import utcnow
from models.classroom import HelpRequest, HelpStatus, LiveSession, Participant, SessionStatus, Step
from resolvers.classroom.access import Viewer, get_session, viewer
from resolvers.classroom.analytics import SessionAnalytics, compute_analytics
from resolvers.classroom.loaders import live_steps

__all__ = [
    "Audience",
    "HelpChange",
    "HelpDiagnosis",
    "HelpRequestCreated",
    "HelpRequestUpdated",
    "HelpRequestView",
    "HelpSnapshot",
    "InstructorMessage",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantView",
    "Presence",
    "ProgressUpdated",
    "ProgressView",
    "Resubscribe",
    "SessionChange",
    "SessionStatusChanged",
    "Snapshot",
    "StepChanged",
    "StepView",
    "audience",
    "emit",
    "emit_help",
    "follow_analytics",
    "follow_help_requests",
    "follow_session",
    "presence",
]


def emit(db: AsyncSession, session_id: uuid.UUID, event: BroadcastEvent) -> None:
    """Publishes `event` on the session's stream once the transaction has committed."""
    stream = session_stream(session_id)
    after_commit(db, lambda: stream.publish(event))


def emit_help(db: AsyncSession, session_id: uuid.UUID, event: HelpChange) -> None:
    stream = help_stream(session_id)
    after_commit(db, lambda: stream.publish(event))


def step_changed(step: Step, total_steps: int, message: str | None) -> StepChanged:
    return StepChanged(step=StepView.of(step), total_steps=total_steps, message=message)


async def _viewers(session_id: uuid.UUID, actors: list[Actor]) -> list[Viewer | None]:
    """How each actor sees the session (None: not at all), read in one session for all of them."""
    async with read_session() as db:
        session = await db.get(LiveSession, session_id)
        if session is None:
            return [None for _ in actors]
        return [await viewer(db, actor, session) for actor in actors]


# A class opening the app together is authorised in one read; each actor still on their own.
_viewer = Coalesced(_viewers)


async def _follower(actor: Actor, session_id: uuid.UUID, *, instructor_only: bool) -> Viewer:
    seen_as = await _viewer(session_id, actor)
    if seen_as is None or (instructor_only and not seen_as.is_instructor):
        raise Forbidden("You may not follow this session")
    return seen_as


# Session events.


@dataclass(frozen=True)
class Snapshot:
    seq: int
    at: datetime
    session: LiveSession
    current_step: Step | None
    total_steps: int
    participants: list[Participant]


async def session_snapshots(
    db: AsyncSession, session_id: uuid.UUID, viewers: list[Viewer], seq: int
) -> list[Snapshot]:
    """The session as each viewer sees it, read once: the participants are everyone for the instructor,
    and only themselves for a participant."""
    session = await get_session(db, session_id)
    steps = await live_steps(db, session.task_id)
    statement = select(Participant).where(col(Participant.session_id) == session.id)
    if not any(viewer.is_instructor for viewer in viewers):
        statement = statement.where(col(Participant.id).in_({viewer.participant_id for viewer in viewers}))
    participants = list((await db.execute(statement.order_by(col(Participant.joined_at)))).scalars())
    current = await db.get(Step, session.current_step_id) if session.current_step_id else None
    at = utcnow()
    by_id = {participant.id: participant for participant in participants}

    def seen_by(viewer: Viewer) -> list[Participant]:
        # Each viewer's own row looked up, not every row tested for each of a class of viewers.
        if viewer.is_instructor:
            return list(participants)
        own = by_id.get(viewer.participant_id) if viewer.participant_id is not None else None
        return [own] if own is not None else []

    return [Snapshot(seq, at, session, current, len(steps), seen_by(viewer)) for viewer in viewers]


async def _shared_snapshots(session_id: uuid.UUID, viewers: list[Viewer]) -> list[Snapshot]:
    """For followers that subscribed through a shared reader of the stream before asking: the `seq` and
    the rows read after all of them asked, so no change after that `seq` is missed by any of them."""
    seq = await session_stream(session_id).current()
    async with read_session() as db:
        return await session_snapshots(db, session_id, viewers, seq)


# Phones subscribing at once (a class opening the app together) share one snapshot read.
_snapshots = Coalesced(_shared_snapshots)


@dataclass(frozen=True)
class Audience:
    """All that a viewer's rendering of one session change depends on (the schema renders a change from
    this alone), so every viewer with the same audience for an event is shown the very same result."""

    instructor: bool
    sees_subject: bool  # the participant the change is about (joined, left, progressed), if any
    # Whom the change renders as, when that viewer may see more of the subject than the role shows (their
    # own email, or any as an admin); None renders it anonymously.
    principal: UserActor | None = None


def audience(event: SessionChange, seen_as: Viewer) -> Audience:
    subject = _subject(event)
    if subject is None or not seen_as.may_see_participant(subject.id):
        return Audience(instructor=seen_as.is_instructor, sees_subject=False)
    account = seen_as.account
    shows_more = account is not None and (account.is_admin or account.user_id == subject.user_id)
    principal = account if shows_more else None
    return Audience(instructor=seen_as.is_instructor, sees_subject=True, principal=principal)


def _subject(event: SessionChange) -> ParticipantView | None:
    if isinstance(event, ProgressUpdated):
        return event.progress.participant
    if isinstance(event, ParticipantJoined | ParticipantLeft):
        return event.participant
    return None


@dataclass(frozen=True)
class Following:
    """An authorised follower's view of a session. Either `events()`, the stream read by this follower
    alone (close it with aclosing to release the presence lease), or `snapshot()` while holding
    `presence()`, the changes reaching the follower from a shared reader of `stream`."""

    viewer: Viewer
    session_id: uuid.UUID

    @property
    def stream(self) -> SequencedStream:
        return session_stream(self.session_id)

    def events(self) -> AsyncGenerator[Snapshot | SessionChange, None]:
        return _session_events(self.session_id, self.viewer)

    def presence(self) -> AbstractAsyncContextManager[None]:
        """What following holds: a participant's presence lease (nothing for the instructor)."""
        if self.viewer.participant_id is None:
            return nullcontext()
        return presence_lease(self.session_id, self.viewer.participant_id)

    async def snapshot(self) -> Snapshot:
        """A snapshot at the stream's current `seq`: the caller subscribed to `stream` before, so no
        change after it is missed."""
        return await _snapshots(self.session_id, self.viewer)


async def follow_session(actor: Actor, session_id: uuid.UUID) -> Following:
    """A snapshot, then every change; the stream ends after the session has ENDED."""
    return Following(await _follower(actor, session_id, instructor_only=False), session_id)


async def _session_events(
    session_id: uuid.UUID, seen_as: Viewer
) -> AsyncGenerator[Snapshot | SessionChange, None]:
    async with AsyncExitStack() as stack:
        if seen_as.participant_id is not None:
            await stack.enter_async_context(presence_lease(session_id, seen_as.participant_id))
        while True:
            try:
                async for item in _session_pass(session_id, seen_as):
                    yield item
                return
            except Resubscribe:
                # Events may have been missed (the hub reconnected, or this follower fell behind): a
                # fresh snapshot puts the phone back in step, and the stream goes on from there.
                continue


async def _session_pass(
    session_id: uuid.UUID, seen_as: Viewer
) -> AsyncGenerator[Snapshot | SessionChange, None]:
    """One subscription: the snapshot, then the changes after it, until the session has ENDED."""
    async with session_stream(session_id).subscribe() as (seq, events):
        async with read_session() as db:
            (snapshot,) = await session_snapshots(db, session_id, [seen_as], seq)
        yield snapshot
        if snapshot.session.status is SessionStatus.ENDED:
            return
        async for event in events:
            if not isinstance(event, SessionChange):
                raise TypeError(f"{event.type_name} does not belong on a session stream")
            yield event
            if isinstance(event, SessionStatusChanged) and event.status is SessionStatus.ENDED:
                return


# Help requests.


@dataclass(frozen=True)
class HelpSnapshot:
    seq: int
    at: datetime
    requests: list[HelpRequest]


async def open_help_requests(db: AsyncSession, session_id: uuid.UUID) -> list[HelpRequest]:
    statement = (
        select(HelpRequest)
        .where(col(HelpRequest.session_id) == session_id, col(HelpRequest.status) != HelpStatus.RESOLVED)
        .order_by(col(HelpRequest.created_at))
    )
    return list((await db.execute(statement)).scalars())


async def follow_help_requests(
    actor: Actor, session_id: uuid.UUID
) -> AsyncGenerator[HelpSnapshot | HelpChange, None]:
    """For the session's instructor: the open requests, then each one created, acknowledged or resolved."""
    await _follower(actor, session_id, instructor_only=True)
    return _help_events(session_id)


async def _help_events(session_id: uuid.UUID) -> AsyncGenerator[HelpSnapshot | HelpChange, None]:
    while True:
        try:
            async with help_stream(session_id).subscribe() as (seq, events):
                async with read_session() as db:
                    requests = await open_help_requests(db, session_id)
                yield HelpSnapshot(seq, utcnow(), requests)
                async for event in events:
                    if not isinstance(event, HelpChange):
                        raise TypeError(f"{event.type_name} does not belong on a help stream")
                    yield event
            return
        except Resubscribe:
            # Missed changes are in a fresh snapshot of the open requests.
            continue


# The instructor's dashboard.


async def follow_analytics(actor: Actor, session_id: uuid.UUID) -> AsyncGenerator[SessionAnalytics, None]:
    """The session's figures, pushed when they change, at most twice a second."""
    await _follower(actor, session_id, instructor_only=True)
    return _analytics(session_id)


async def _compute(session_id: uuid.UUID) -> SessionAnalytics:
    async with read_session() as db:
        return await compute_analytics(db, session_id)


async def _analytics(session_id: uuid.UUID) -> AsyncGenerator[SessionAnalytics, None]:
    channels = [
        session_stream(session_id).channel,
        help_stream(session_id).channel,
        presence_channel(session_id),
    ]
    async with throttled_feed(
        ("analytics", session_id), channels, partial(_compute, session_id)
    ) as next_value:
        while True:
            yield await next_value()
