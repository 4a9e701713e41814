"""The live streams' GraphQL types: the SessionEvent and HelpRequestEvent unions and their subscriptions.

A subscription field authorises through resolvers/classroom/live.py, then converts each typed event it
yields; every member has `seq` and `at`.
"""

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Annotated, assert_never

import strawberry

from core import metrics
from resolvers import classroom
from resolvers.classroom import live
from schema import fanout, fields
from schema.classroom.steps import Step
from schema.classroom.types import (
    HelpRequest,
    LiveSession,
    Participant,
    SessionStatus,
    StepProgress,
    help_requests_of,
    parse_session_id,
)
from schema.context import Info


@strawberry.type
class SessionSnapshot:
    seq: int
    at: datetime
    session: LiveSession
    status: SessionStatus
    current_step: Step | None
    total_steps: int
    participants: list[Participant] = strawberry.field(
        description="Everyone for the instructor; a participant sees only themselves."
    )


@strawberry.type
class StepChanged:
    seq: int
    at: datetime
    step: Step
    total_steps: int
    # Not `message`: union members must agree on a shared field's type; InstructorMessage's is non-null.
    instructor_note: str | None = strawberry.field(description="The message given with `nextStep`, if any.")


@strawberry.type
class SessionStatusChanged:
    seq: int
    at: datetime
    status: SessionStatus
    previous_status: SessionStatus


@strawberry.type
class ParticipantJoined:
    seq: int
    at: datetime
    participant: Participant | None = strawberry.field(
        description="Null for other participants: they see that someone joined, not who."
    )
    participant_count: int


@strawberry.type
class ParticipantLeft:
    seq: int
    at: datetime
    participant: Participant | None = strawberry.field(
        description="Null for other participants: they see that someone left, not who."
    )
    participant_count: int


@strawberry.type
class InstructorMessage:
    seq: int
    at: datetime
    message: str


@strawberry.type
class ProgressUpdated:
    seq: int
    at: datetime
    progress: StepProgress | None = strawberry.field(
        description="Null for other participants' progress, which only the instructor sees."
    )


SessionEvent = Annotated[
    SessionSnapshot
    | StepChanged
    | SessionStatusChanged
    | ParticipantJoined
    | ParticipantLeft
    | InstructorMessage
    | ProgressUpdated,
    strawberry.union("SessionEvent"),
]


@strawberry.type
class HelpRequestSnapshot:
    seq: int
    at: datetime
    requests: list[HelpRequest]


@strawberry.type
class HelpRequestCreated:
    seq: int
    at: datetime
    request: HelpRequest


@strawberry.type
class HelpRequestUpdated:
    seq: int
    at: datetime
    request: HelpRequest


HelpRequestEvent = Annotated[
    HelpRequestSnapshot | HelpRequestCreated | HelpRequestUpdated, strawberry.union("HelpRequestEvent")
]


def _snapshot(snapshot: live.Snapshot, viewer: classroom.Viewer) -> SessionSnapshot:
    return SessionSnapshot(
        seq=snapshot.seq,
        at=snapshot.at,
        session=LiveSession.from_row(snapshot.session, viewer),
        status=snapshot.session.status,
        current_step=Step.from_row(snapshot.current_step) if snapshot.current_step else None,
        total_steps=snapshot.total_steps,
        participants=[Participant.from_row(row) for row in snapshot.participants],
    )


def _change(event: live.SessionChange, audience: live.Audience) -> SessionEvent:
    """A change as its audience may see it; redacted rather than dropped, so `seq` never skips. Nothing
    but `audience` is read of the viewer: the fan-out shares one execution per audience."""
    seq, at = _position(event)
    if isinstance(event, live.StepChanged):
        return StepChanged(
            seq=seq,
            at=at,
            step=Step.of(event.step),
            total_steps=event.total_steps,
            instructor_note=event.message,
        )
    if isinstance(event, live.SessionStatusChanged):
        return SessionStatusChanged(
            seq=seq, at=at, status=event.status, previous_status=event.previous_status
        )
    if isinstance(event, live.InstructorMessage):
        return InstructorMessage(seq=seq, at=at, message=event.message)
    if isinstance(event, live.ProgressUpdated):
        progress = StepProgress.of(event.progress) if audience.sees_subject else None
        return ProgressUpdated(seq=seq, at=at, progress=progress)
    if isinstance(event, live.ParticipantJoined | live.ParticipantLeft):
        membership = ParticipantJoined if isinstance(event, live.ParticipantJoined) else ParticipantLeft
        return membership(
            seq=seq,
            at=at,
            participant=Participant.of(event.participant) if audience.sees_subject else None,
            participant_count=event.count,
        )
    assert_never(event)


def _session_change(event: object) -> live.SessionChange:
    if not isinstance(event, live.SessionChange):
        raise TypeError(f"{type(event).__name__} does not belong on a session stream")
    return event


def _ends_session(event: object) -> bool:
    return isinstance(event, live.SessionStatusChanged) and event.status is SessionStatus.ENDED


# After its snapshot, `sessionEvents` renders each change from the viewer's audience alone (see `_change`);
# the audience names the one viewer (the change's subject, signed in, or an admin) whose own view of the
# subject's account the execution may show.
SESSION_EVENTS = fanout.declare(
    fanout.Broadcastable(
        field="sessionEvents",
        audience=lambda event, viewer: live.audience(_session_change(event), viewer),
        render=lambda event, audience: _change(_session_change(event), audience),
        seq=lambda event: _position(_session_change(event))[0],
        ends=lambda event, _viewer: _ends_session(event),
        event_name=lambda event: type(event).__name__,
    )
)


def _position(event: live.SessionChange | live.HelpChange) -> tuple[int, datetime]:
    """A sequenced stream always sets both; an event without them did not come from one."""
    if event.seq is None or event.at is None:
        raise ValueError(f"{event.type_name} arrived without seq and at")
    return event.seq, event.at


@strawberry.type
class EventsSubscription:
    @fields.subscription("A snapshot, then every change; `seq` grows by exactly one per event.")
    async def session_events(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[SessionEvent, None]:
        following = await live.follow_session(info.context.actor, parse_session_id(session_id))
        member = fanout.joining()
        if member is not None:
            # Over a websocket: only the snapshot is this subscriber's; the changes reach it from the
            # fan-out, executed once per cohort. A fresh snapshot runs the operation again.
            if not member.joined:
                await member.retain(following.presence())
            await member.join(following.stream, following.viewer.role, following.viewer)
            snapshot = await following.snapshot()
            member.snapshot_taken(snapshot.seq, final=snapshot.session.status is SessionStatus.ENDED)
            yield _snapshot(snapshot, following.viewer)
            return
        async with aclosing(following.events()) as events:
            async for event in events:
                if isinstance(event, live.Snapshot):
                    yield _snapshot(event, following.viewer)
                    continue
                executions = metrics.subscription_executions.labels(
                    SESSION_EVENTS.field, type(event).__name__, "subscriber"
                )
                executions.inc()
                yield _change(event, live.audience(event, following.viewer))

    @fields.subscription("The open requests, then each one created, acknowledged or resolved.")
    async def help_requests(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[HelpRequestEvent, None]:
        changes = await live.follow_help_requests(info.context.actor, parse_session_id(session_id))
        async with aclosing(changes) as events:
            async for event in events:
                if isinstance(event, live.HelpSnapshot):
                    requests = await help_requests_of(info, event.requests)
                    yield HelpRequestSnapshot(seq=event.seq, at=event.at, requests=requests)
                    continue
                seq, at = _position(event)
                kind = (
                    HelpRequestCreated if isinstance(event, live.HelpRequestCreated) else HelpRequestUpdated
                )
                yield kind(seq=seq, at=at, request=HelpRequest.of(event.request))
