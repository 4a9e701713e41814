"""Help requests: asked for by participants, answered by the session's instructor."""

import strawberry

from core.db import read_session, transaction
from resolvers import classroom
from schema import fields
from schema.classroom.types import HelpRequest, HelpStatus, help_requests_of, member_id, parse_session_id
from schema.context import Info
from schema.ids import parse_id


@strawberry.type
class HelpQuery:
    @strawberry.field
    async def help_requests(
        self, info: Info, session_id: strawberry.ID, status: HelpStatus | None = None
    ) -> list[HelpRequest]:
        async with read_session() as db:
            found = await classroom.list_help_requests(
                db, info.context.actor, parse_session_id(session_id), status
            )
        return await help_requests_of(info, found)


@strawberry.type
class HelpMutation:
    @strawberry.mutation
    async def request_help(
        self,
        info: Info,
        session_id: strawberry.ID,
        step_id: strawberry.ID | None = None,
        message: str | None = None,
    ) -> HelpRequest:
        async with transaction() as db:
            request = await classroom.request_help(
                db,
                info.context.actor,
                parse_session_id(session_id),
                member_id(step_id) if step_id is not None else None,
                message,
            )
        return (await help_requests_of(info, [request]))[0]

    @strawberry.mutation
    async def acknowledge_help_request(self, info: Info, id: strawberry.ID) -> HelpRequest:
        async with transaction() as db:
            request = await classroom.acknowledge_help_request(
                db, info.context.actor, parse_id(id, "Help request")
            )
        return (await help_requests_of(info, [request]))[0]

    @strawberry.mutation
    async def resolve_help_request(
        self, info: Info, id: strawberry.ID, response: str | None = None
    ) -> HelpRequest:
        async with transaction() as db:
            request = await classroom.resolve_help_request(
                db, info.context.actor, parse_id(id, "Help request"), response
            )
        return (await help_requests_of(info, [request]))[0]

    @fields.mutation("The participant who asked rates the resolved help they got, 1 to 5, once.")
    async def rate_help(self, info: Info, id: strawberry.ID, rating: int) -> HelpRequest:
        async with transaction() as db:
            request = await classroom.rate_help(db, info.context.actor, parse_id(id, "Help request"), rating)
        return (await help_requests_of(info, [request]))[0]
