"""Subscriptions executed once per cohort, as graphql-ruby's broadcastable subscriptions and Hasura's
multiplexed live queries serve many clients.

A subscription field opts in with `declare(Broadcastable(...))`: what it yields after its snapshot is
rendered from the event and an audience key alone, and the key comes from the viewer that the field's
authorisation produced. Over a websocket such a subscription becomes a `Member`:

- its snapshot stays its own: Strawberry runs the operation (parsing, validation, limits, the field's
  authorisation) and its first result goes out as for any subscription. The field's generator then stays
  parked, with no task, and is advanced again only for a fresh snapshot once events may have been missed
  (the hub reconnected, the channel's reader fell behind, or this member's socket did);
- the changes come from one reader per channel and process (`_Channel`), which executes the selection set
  once per cohort — same document, operation name, variables and viewer scope — and audience key, and
  sends the same serialized frame to every member of it.

The shared execution runs with an anonymous context: nothing about one viewer can reach another.
Every other subscription (another field, several root fields, directives on the root field, HTTP) runs
on Strawberry's ordinary path.
"""

import asyncio
import hashlib
import logging
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from inspect import isawaitable
from typing import Any, Protocol

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
    parse,
)

from core import metrics
from core.settings import get_settings
from resolvers.classroom.live import Resubscribe
from schema.context import Context
from schema.errors import convert

logger = logging.getLogger(__name__)

# Events a member is given while its snapshot is being taken; more, and it takes another snapshot.
PENDING_LIMIT = 256
# A socket that has not taken a frame in this long is skipped until it has, then gets a fresh snapshot.
SLOW_SEND_SECONDS = 2.0
RETRY_SECONDS = 0.5
_ROUTES_KEPT = 512
_PAYLOADS_KEPT = 32


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


@dataclass(frozen=True)
class Broadcastable:
    """A subscription field whose events after the snapshot may be executed once per cohort."""

    field: str
    # (event, viewer) -> key: the field renders an event from the key alone, so viewers with equal keys
    # get equal results by construction.
    audience: Callable[[Any, Any], Hashable]
    render: Callable[[Any, Any], object]
    seq: Callable[[Any], int]
    # An event after which the stream is over (the field's own path returns after it too).
    ends: Callable[[Any], bool]
    event_name: Callable[[Any], str]


_declared: dict[str, Broadcastable] = {}


def declare(spec: Broadcastable) -> Broadcastable:
    _declared[spec.field] = spec
    return spec


@dataclass(frozen=True)
class Route:
    spec: Broadcastable
    document: DocumentNode
    document_hash: str


@lru_cache(maxsize=_ROUTES_KEPT)
def _route(query: str, operation_name: str | None) -> Route | None:
    try:
        # Bounded like the schema's token limit: this runs before Strawberry's own checks.
        document = parse(query, max_tokens=get_settings().graphql_max_tokens)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode) or selections[0].directives:
        return None
    spec = _declared.get(selections[0].name.value)
    if spec is None:
        return None
    return Route(spec, document, hashlib.sha256(query.encode()).hexdigest())


def route(payload: dict[str, Any]) -> Route | None:
    """The broadcastable field a subscribe message's operation consists of, or None."""
    query, operation_name = payload.get("query"), payload.get("operationName")
    if not isinstance(query, str) or not isinstance(operation_name, str | None):
        return None
    return _route(query, operation_name)


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
        self._cohort: _Cohort | None = None
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
        channel = await _Channel.of(stream, self.route.spec, self.graphql_schema)
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


class _Cohort:
    """The members that share a document, operation name, variables and scope: one execution per event
    and audience key serves them all."""

    def __init__(self, channel: "_Channel", key: Hashable, first: Member, schema: GraphQLSchema) -> None:
        self.key = key
        self.members: dict[Member, None] = {}  # ordered, so frames go out in subscription order
        self._channel = channel
        self._schema = schema
        self._route = first.route
        self._variables = first.variables
        self._operation_name = first.operation_name
        # Anonymous: the shared execution must not see any one viewer.
        self._context = Context(request=first.context.request, response=None, request_id=uuid.uuid4().hex)
        self._payloads: OrderedDict[tuple[int, Hashable], tuple[Any, str]] = OrderedDict()

    def discard(self, member: Member) -> None:
        self.members.pop(member, None)
        if not self.members:
            self._channel.drop(self)

    async def payload(self, event: Any, audience: Hashable) -> str:
        """The serialized `{"data": …}` of `event` for `audience`, executed once."""
        cached = self._payloads.get((id(event), audience))
        if cached is not None and cached[0] is event:
            return cached[1]
        spec = self._route.spec
        result = execute(
            self._schema,
            self._route.document,
            root_value=spec.render(event, audience),
            context_value=self._context,
            variable_values=self._variables,
            operation_name=self._operation_name,
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        metrics.subscription_executions.labels(spec.field, spec.event_name(event), "cohort").inc()
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [convert(error).formatted for error in result.errors]
        payload = orjson.dumps(body).decode()
        # The event is kept with its payload, so its id is not reused while cached.
        self._payloads[(id(event), audience)] = (event, payload)
        if len(self._payloads) > _PAYLOADS_KEPT:
            self._payloads.popitem(last=False)
        return payload


_channels: dict[str, "_Channel"] = {}


class _Channel:
    """One reader of a stream for every member of this process, whatever their cohort."""

    def __init__(self, stream: Stream, spec: Broadcastable, schema: GraphQLSchema) -> None:
        self.stream = stream
        self.spec = spec
        self.schema = schema
        self.cohorts: dict[Hashable, _Cohort] = {}
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(), name=f"fanout:{stream.channel}")

    @classmethod
    async def of(cls, stream: Stream, spec: Broadcastable, schema: GraphQLSchema) -> "_Channel":
        channel = _channels.get(stream.channel)
        if channel is None:
            channel = _channels[stream.channel] = cls(stream, spec, schema)
        await asyncio.shield(channel._ready)
        return channel

    def add(self, key: Hashable, member: Member) -> _Cohort:
        cohort = self.cohorts.get(key)
        if cohort is None:
            cohort = self.cohorts[key] = _Cohort(self, key, member, self.schema)
        cohort.members[member] = None
        return cohort

    def drop(self, cohort: _Cohort) -> None:
        if self.cohorts.get(cohort.key) is cohort:
            del self.cohorts[cohort.key]
        if not self.cohorts and _channels.get(self.stream.channel) is self:
            del _channels[self.stream.channel]
            self._task.cancel()

    def _members(self) -> list[Member]:
        return [member for cohort in self.cohorts.values() for member in cohort.members]

    async def _read(self) -> None:
        while True:
            try:
                async with self.stream.subscribe() as (_, events):
                    if self._ready.done():
                        # Events may have been missed meanwhile: everyone takes a fresh snapshot.
                        for member in self._members():
                            member.resnapshot()
                    else:
                        self._ready.set_result(None)
                    async for event in events:
                        await self._dispatch(event)
                return
            except Resubscribe:
                continue
            except Exception as error:
                if not self._ready.done():
                    # Nobody has joined yet: each joiner gets the error, as a subscriber of its own would.
                    if _channels.get(self.stream.channel) is self:
                        del _channels[self.stream.channel]
                    self._ready.set_exception(error)
                    return
                logger.warning("fan-out reader of %s failed, resubscribing: %s", self.stream.channel, error)
                await asyncio.sleep(RETRY_SECONDS)

    async def _dispatch(self, event: Any) -> None:
        spec = self.spec
        seq, ends = spec.seq(event), spec.ends(event)
        deliveries: list[tuple[Member, str]] = []
        for cohort in list(self.cohorts.values()):
            audiences: dict[Hashable, list[Member]] = {}
            for member in cohort.members:
                if not member.live:
                    member.hold(event)
                elif seq > member.after:
                    member.after = seq
                    audiences.setdefault(spec.audience(event, member.viewer), []).append(member)
            for audience, members in audiences.items():
                payload = await cohort.payload(event, audience)
                frames: dict[tuple[type, str], str] = {}
                for member in members:
                    frame_key = (type(member.connection), member.operation_id)
                    frame = frames.get(frame_key)
                    if frame is None:
                        frame = frames[frame_key] = member.connection.frame(member.operation_id, payload)
                    deliveries.append((member, frame))
        await _deliver(deliveries, ends)


async def _send(member: Member, frame: str, ends: bool) -> None:
    with suppress(Exception):
        # A socket that went away is cleaned up by its own handler.
        await member.connection.send_frame(frame)
    if ends:
        await member.finish()


async def _deliver(deliveries: list[tuple[Member, str]], ends: bool) -> None:
    if not deliveries:
        return
    sends = {asyncio.ensure_future(_send(member, frame, ends)): member for member, frame in deliveries}
    _, slow = await asyncio.wait(sends, timeout=SLOW_SEND_SECONDS)
    for task in slow:
        member = sends[task]
        logger.warning("fan-out: a subscriber's socket is not taking frames; it resumes with a snapshot")
        member.fall_behind()
        task.add_done_callback(member.resume)
