"""One reader per channel and process, and the cohorts it executes once for."""

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Coroutine, Generator, Hashable
from contextlib import suppress
from dataclasses import replace
from inspect import isawaitable
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLSchema, execute

from core import metrics
from resolvers.classroom.live import Resubscribe
from schema.context import Context
from schema.errors import convert
from schema.execution import StudyMateExecutionContext
from schema.fanout.members import Member, Stream
from schema.fanout.routes import Broadcastable, principal_of

logger = logging.getLogger(__name__)

# A socket that has not taken a frame in this long is skipped until it has, then gets a fresh snapshot.
SLOW_SEND_SECONDS = 2.0
RETRY_SECONDS = 0.5
_PAYLOADS_KEPT = 32


class Cohort:
    """The members that share a document, operation name, variables and scope: one execution per event
    and audience key serves them all."""

    def __init__(self, channel: "Channel", key: Hashable, first: Member, schema: GraphQLSchema) -> None:
        self.key = key
        self.members: dict[Member, None] = {}  # ordered, so frames go out in subscription order
        self._channel = channel
        self._schema = schema
        self._route = first.route
        self._variables = first.variables
        self._operation_name = first.operation_name
        # Anonymous: the shared execution must not see any one viewer (but the one its audience names).
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
        principal = principal_of(audience)
        context = self._context
        if principal is not None:
            context = replace(context, principal=principal, loaders={})
        result = execute(
            self._schema,
            self._route.document,
            root_value=spec.render(event, audience),
            context_value=context,
            variable_values=self._variables,
            operation_name=self._operation_name,
            executor_class=StudyMateExecutionContext,
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


_channels: dict[str, "Channel"] = {}


class Channel:
    """One reader of a stream for every member of this process, whatever their cohort."""

    def __init__(self, stream: Stream, spec: Broadcastable, schema: GraphQLSchema) -> None:
        self.stream = stream
        self.spec = spec
        self.schema = schema
        self.cohorts: dict[Hashable, Cohort] = {}
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(), name=f"fanout:{stream.channel}")

    @classmethod
    async def of(cls, stream: Stream, spec: Broadcastable, schema: GraphQLSchema) -> "Channel":
        channel = _channels.get(stream.channel)
        if channel is None:
            channel = _channels[stream.channel] = cls(stream, spec, schema)
        await asyncio.shield(channel._ready)
        return channel

    def add(self, key: Hashable, member: Member) -> Cohort:
        cohort = self.cohorts.get(key)
        if cohort is None:
            cohort = self.cohorts[key] = Cohort(self, key, member, self.schema)
        cohort.members[member] = None
        return cohort

    def drop(self, cohort: Cohort) -> None:
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
        seq = spec.seq(event)
        deliveries: list[tuple[Member, str, bool]] = []
        for cohort in list(self.cohorts.values()):
            audiences: dict[Hashable, list[Member]] = {}
            for member in cohort.members:
                if not member.live:
                    member.keep(event)
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
                    deliveries.append((member, frame, spec.ends(event, member.viewer)))
        await _deliver(deliveries)


async def _send(member: Member, frame: str, ends: bool) -> None:
    with suppress(Exception):
        # A socket that went away is cleaned up by its own handler.
        await member.connection.send_frame(frame)
    if ends:
        await member.finish()


class _Rest:
    """The rest of a coroutine that suspended on `waiting_on`, as an awaitable for a task to run."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: object) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        step = self._waiting_on
        while True:
            try:
                value = yield step
            except BaseException as error:  # cancelled while waiting: the coroutine decides
                try:
                    step = self._coroutine.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    step = self._coroutine.send(value)
                except StopIteration:
                    return


def _start(send: Coroutine[Any, Any, None]) -> "asyncio.Future[None] | None":
    """Runs `send` here up to its first suspension, and the rest, if any, in a task. A socket that takes
    the frame never suspends its send, so a cohort of thousands costs no task per member (nor the garbage
    of thousands of tasks alive at once), only its slow sockets do."""
    try:
        waiting_on = send.send(None)
    except StopIteration:
        return None
    except Exception:
        logger.exception("fan-out: sending a frame failed")
        return None
    return asyncio.ensure_future(_Rest(send, waiting_on))


async def _deliver(deliveries: list[tuple[Member, str, bool]]) -> None:
    sends: dict[asyncio.Future[None], Member] = {}
    for member, frame, ends in deliveries:
        rest = _start(_send(member, frame, ends))
        if rest is not None:
            sends[rest] = member
    if not sends:
        return
    _, slow = await asyncio.wait(sends, timeout=SLOW_SEND_SECONDS)
    for task in slow:
        member = sends[task]
        logger.warning("fan-out: a subscriber's socket is not taking frames; it resumes with a snapshot")
        member.fall_behind()
        task.add_done_callback(member.resume)
