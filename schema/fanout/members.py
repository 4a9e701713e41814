"""A broadcastable subscription on one websocket: its snapshots, and the shared frames after them."""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager, suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from graphql import GraphQLSchema

from schema.context import Context
from schema.fanout.routes import Route

if TYPE_CHECKING:
    from schema.fanout.channels import Cohort

logger = logging.getLogger(__name__)

# Events a member is given while its snapshot is being taken; more, and it takes another snapshot.
PENDING_LIMIT = 256


class Stream(Protocol):
    """A sequenced stream (broadcast/streams.py), as the schema sees it."""

    @property
    def channel(self) -> str: ...

    def subscribe(self) -> AbstractAsyncContextManager[tuple[int, AsyncIterator[Any]]]: ...


class Connection(Protocol):
    """The websocket handler a member belongs to, in either protocol."""

    def frame(self, operation_id: str, payload: str) -> str:
        """The protocol's data message for `payload` (a serialized `{"data": …}`)."""

    async def send_frame(self, frame: str) -> None: ...

    async def send_result(self, operation_id: str, result: Any) -> None:
        """A per-subscriber result (a snapshot), sent as the protocol sends any result."""

    async def complete(self, operation_id: str) -> None:
        """Tells the client the operation is over and forgets it, without leaving again."""


_joining: ContextVar["Member | None"] = ContextVar("fanout_member", default=None)


def joining() -> "Member | None":
    """The member a broadcastable field is being started for, or None: the field then runs on its own."""
    return _joining.get()


class Member:
    """One subscription of a broadcastable field on one websocket."""

    __slots__ = (
        "_again",
        "_cohort",
        "_pending",
        "_task",
        "after",
        "connection",
        "context",
        "graphql_schema",
        "live",
        "operation_id",
        "operation_name",
        "route",
        "stream",
        "variables",
        "viewer",
    )

    def __init__(
        self,
        connection: Connection,
        operation_id: str,
        route: Route,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
        graphql_schema: GraphQLSchema,
    ) -> None:
        self.connection = connection
        self.graphql_schema = graphql_schema
        self.operation_id = operation_id
        self.route = route
        self.variables = variables
        self.operation_name = operation_name
        self.context = context
        self.viewer: Any = None
        # Strawberry's result stream: advanced once per snapshot, parked in between.
        self.stream: AsyncGenerator[Any, None] | None = None
        self.after = 0  # the last seq this member has (its snapshot's, then each event's)
        self.live = False
        self._pending: deque[Any] | None = deque()
        self._cohort: Cohort | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    @property
    def joined(self) -> bool:
        return self._cohort is not None

    async def start(self, open_stream: Callable[[], Any]) -> Any:
        """Opens Strawberry's stream with this member known to the field, and answers its first result
        (None if the stream ended at once)."""
        token = _joining.set(self)
        try:
            self.stream = await open_stream()
            return await anext(self.stream, None)
        finally:
            _joining.reset(token)

    async def join(self, stream: Stream, scope: Hashable, viewer: Any) -> None:
        """Called by the field once it has authorised the viewer, before its first snapshot: from here on
        every event of `stream` is kept for this member. `scope` (from the authorisation) is part of the
        cohort."""
        self.viewer = viewer
        # Imported here: channels.py builds on this module's Member.
        from schema.fanout.channels import Channel

        channel = await Channel.of(stream, self.route.spec, self.graphql_schema)
        key = (
            self.route.document_hash,
            self.operation_name,
            orjson.dumps(self.variables, option=orjson.OPT_SORT_KEYS),
            scope,
        )
        self._cohort = channel.add(key, self)

    def snapshot_taken(self, seq: int) -> None:
        self.after = seq

    def hold(self, event: Any) -> None:
        """An event that arrived while the snapshot is being taken; sent after it if it is newer."""
        if self._pending is None:
            return
        if len(self._pending) >= PENDING_LIMIT:
            self._pending = None  # too much missed: another snapshot
            return
        self._pending.append(event)

    async def go_live(self) -> None:
        """After the snapshot went out: the held events newer than it, then the shared frames."""
        cohort = self._cohort
        assert cohort is not None
        spec = self.route.spec
        while self._pending:
            event = self._pending.popleft()
            if spec.seq(event) <= self.after:
                continue
            self.after = spec.seq(event)
            payload = await cohort.payload(event, spec.audience(event, self.viewer))
            await self.connection.send_frame(self.connection.frame(self.operation_id, payload))
            if spec.ends(event):
                await self.finish()
                return
        if self._pending is None:
            self.resnapshot()
            return
        self._pending = None
        self.live = True

    def fall_behind(self) -> None:
        """Stops the shared frames; the next snapshot resumes them."""
        self.live = False
        self._pending = deque()

    def resume(self, _: object = None) -> None:
        """Once a slow socket has taken its frame: a fresh snapshot, if the operation still runs."""
        if self.joined:
            self.resnapshot()

    def resnapshot(self) -> None:
        """Sends a fresh snapshot, then the events after it (in a task, one at a time)."""
        self.fall_behind()
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._resnapshot(), name="fanout-resnapshot")

    async def _resnapshot(self) -> None:
        assert self.stream is not None
        while True:
            self._again = False
            try:
                result = await anext(self.stream, None)
            except Exception:
                logger.exception("fresh snapshot failed")
                result = None
            if result is None:
                await self.finish()
                return
            await self.connection.send_result(self.operation_id, result)
            if result.errors:
                # The field's stream fails after an error result; it is over.
                await self.finish()
                return
            if not self._again:
                await self.go_live()
                return
            self.fall_behind()

    async def finish(self) -> None:
        """The server ends the operation (the session ended, a snapshot failed)."""
        with suppress(Exception):
            await self.connection.complete(self.operation_id)
        await self.leave()

    async def leave(self) -> None:
        """The operation is over: out of its cohort, and the field's generator closed (its lease freed)."""
        cohort, self._cohort = self._cohort, None
        self.live = False
        if cohort is not None:
            cohort.discard(self)
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        stream, self.stream = self.stream, None
        if stream is not None:
            with suppress(Exception):
                await stream.aclose()
