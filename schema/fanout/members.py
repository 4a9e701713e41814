"""A broadcastable subscription on one websocket: its snapshots, and the shared frames after them."""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from graphql import GraphQLSchema

from core import metrics
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
        "_final",
        "_open",
        "_pending",
        "_resources",
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
        # Strawberry's result stream, while it runs: closed once its snapshot is out, since a member's
        # changes come from the fan-out; a fresh snapshot runs the operation again (re-authorised).
        self.stream: AsyncGenerator[Any, None] | None = None
        self._open: Callable[[], Awaitable[AsyncGenerator[Any, None]]] | None = None
        # What the subscription holds while it runs (a presence lease), past the stream that took it.
        self._resources: AsyncExitStack | None = None
        self._final = False
        self.after = 0  # the last seq this member has (its snapshot's, then each event's)
        self.live = False
        self._pending: deque[Any] | None = deque()
        self._cohort: Cohort | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    @property
    def joined(self) -> bool:
        return self._cohort is not None

    async def start(self, open_stream: Callable[[], Awaitable[AsyncGenerator[Any, None]]]) -> Any:
        """Runs the operation with this member known to the field, and answers its first result (None if
        the stream ended at once). A member's stream ends there; any other goes on in `stream`."""
        self._open = open_stream
        return await self._snapshot()

    async def _snapshot(self) -> Any:
        assert self._open is not None
        token = _joining.set(self)
        try:
            self.stream = await self._open()
            result = await anext(self.stream, None)
        finally:
            _joining.reset(token)
        if self.joined and result is not None and not result.errors:
            # Frees Strawberry's state of the operation (its extensions, the field's generator): thousands
            # of idle subscriptions would each keep it.
            stream, self.stream = self.stream, None
            await stream.aclose()
        return result

    async def retain(self, resource: AbstractAsyncContextManager[Any]) -> None:
        """Enters `resource` for as long as the subscription runs (the field's stream ends earlier)."""
        if self._resources is None:
            self._resources = AsyncExitStack()
        await self._resources.enter_async_context(resource)

    async def join(self, stream: Stream, scope: Hashable, viewer: Any) -> None:
        """Called by the field once it has authorised the viewer, before its first snapshot: from here on
        every event of `stream` is kept for this member. `scope` (from the authorisation) is part of the
        cohort."""
        self.viewer = viewer
        if self.joined:
            return  # a fresh snapshot: already in its cohort
        metrics.active_subscriptions.inc()
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

    def snapshot_taken(self, seq: int, *, final: bool) -> None:
        """The field took its snapshot at `seq`; `final` when nothing follows it (the session ended)."""
        self.after = seq
        self._final = final

    def keep(self, event: Any) -> None:
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
        if self._final:
            await self.finish()
            return
        spec = self.route.spec
        while self._pending:
            event = self._pending.popleft()
            if spec.seq(event) <= self.after:
                continue
            self.after = spec.seq(event)
            payload = await cohort.payload(event, spec.audience(event, self.viewer))
            await self.connection.send_frame(self.connection.frame(self.operation_id, payload))
            if spec.ends(event, self.viewer):
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
        while True:
            self._again = False
            try:
                result = await self._snapshot()
            except Exception:
                logger.exception("fresh snapshot failed")
                result = None
            if result is None:
                await self.finish()
                return
            await self.connection.send_result(self.operation_id, result)
            if result.errors:
                # Refused (no longer authorised) or failed: the subscription is over.
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
        """The operation is over: out of its cohort, its stream closed, its lease freed."""
        cohort, self._cohort = self._cohort, None
        self.live = False
        if cohort is not None:
            cohort.discard(self)
            metrics.active_subscriptions.dec()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        stream, self.stream = self.stream, None
        if stream is not None:
            with suppress(Exception):
                await stream.aclose()
        resources, self._resources = self._resources, None
        if resources is not None:
            await resources.aclose()
