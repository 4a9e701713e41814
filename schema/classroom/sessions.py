"""Live sessions: finding one, the instructor's controls, joining, leaving and progress."""

from typing import Any

import strawberry

from core.db import read_session, transaction
from resolvers import classroom
from resolvers.classroom import live
from schema import fields
from schema.classroom.types import (
    JoinPayload,
    LiveSession,
    Participant,
    ProgressStatus,
    StepProgress,
    member_id,
    parse_session_id,
)
from schema.context import Info
from schema.ids import parse_id


@strawberry.type
class SessionsQuery:
    @fields.field("By id for its instructor and participants, or by join code for anyone.")
    async def live_session(
        self, info: Info, id: strawberry.ID | None = None, code: str | None = None
    ) -> LiveSession | None:
        async with read_session() as db:
            session, viewer = await classroom.find_session(
                db,
                info.context.actor,
                session_id=parse_session_id(id) if id is not None else None,
                code=code,
                client_ip=info.context.client_ip,
            )
        return LiveSession.from_row(session, viewer)


async def _control(
    info: Info, session_id: strawberry.ID, action: classroom.Action, **options: Any
) -> LiveSession:
    async with transaction() as db:
        session = await classroom.control(
            db, info.context.actor, parse_session_id(session_id), action, **options
        )
    return LiveSession.from_row(session, classroom.INSTRUCTOR)


@strawberry.type
class SessionsMutation:
    @strawberry.mutation
    async def create_live_session(
        self,
        info: Info,
        lecture_id: strawberry.ID,
        task_id: strawberry.ID | None = None,
        title: str | None = None,
    ) -> LiveSession:
        async with transaction() as db:
            row = await classroom.create_live_session(
                db,
                info.context.actor,
                parse_id(lecture_id, "Lecture"),
                member_id(task_id, "taskId") if task_id is not None else None,
                title,
            )
        return LiveSession.from_row(row, classroom.INSTRUCTOR)

    @strawberry.mutation
    async def start_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.START)

    @strawberry.mutation
    async def next_step(
        self, info: Info, session_id: strawberry.ID, message: str | None = None
    ) -> LiveSession:
        return await _control(info, session_id, classroom.Action.NEXT_STEP, message=message)

    @strawberry.mutation
    async def previous_step(self, info: Info, session_id: strawberry.ID) -> LiveSession:
        return await _control(info, session_id, classroom.Action.PREVIOUS_STEP)

    @strawberry.mutation
    async def go_to_step(self, info: Info, session_id: strawberry.ID, step_id: strawberry.ID) -> LiveSession:
        return await _control(info, session_id, classroom.Action.GO_TO_STEP, step_id=member_id(step_id))

    @strawberry.mutation
    async def pause_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.PAUSE)

    @strawberry.mutation
    async def resume_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.RESUME)

    @strawberry.mutation
    async def end_session(self, info: Info, id: strawberry.ID) -> LiveSession:
        return await _control(info, id, classroom.Action.END)

    @fields.mutation("At most 500 characters; reaches every participant.")
    async def send_instructor_message(self, info: Info, session_id: strawberry.ID, message: str) -> bool:
        async with transaction() as db:
            return await classroom.send_instructor_message(
                db, info.context.actor, parse_session_id(session_id), message
            )

    @fields.mutation("No account needed; answers a participant token for this session.")
    async def join_session(
        self, info: Info, code: str, display_name: str, device_id: str | None = None
    ) -> JoinPayload:
        async with transaction() as db:
            result = await classroom.join_session(
                db, info.context.actor, code, display_name, device_id, info.context.client_ip
            )
        viewer = classroom.Viewer(classroom.ViewerRole.PARTICIPANT, result.participant.id)
        return JoinPayload(
            session=LiveSession.from_row(result.session, viewer),
            participant=Participant.from_row(result.participant),
            participant_token=result.token,
        )

    @strawberry.mutation
    async def leave_session(self, info: Info, session_id: strawberry.ID) -> bool:
        async with transaction() as db:
            return await classroom.leave_session(db, info.context.actor, parse_session_id(session_id))

    @fields.mutation("Keeps a participant online for 30 s without an open subscription.")
    async def heartbeat(self, info: Info, session_id: strawberry.ID) -> bool:
        async with read_session() as db:
            return await classroom.heartbeat(db, info.context.actor, parse_session_id(session_id))

    @strawberry.mutation
    async def report_progress(
        self, info: Info, session_id: strawberry.ID, step_id: strawberry.ID, status: ProgressStatus
    ) -> StepProgress:
        async with transaction() as db:
            progress, participant, step = await classroom.report_progress(
                db, info.context.actor, parse_session_id(session_id), member_id(step_id), status
            )
        return StepProgress.of(live.ProgressView.of(progress, participant, step))
