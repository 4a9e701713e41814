"""Live-classroom channels, event payloads, sequence numbers, presence and the throttled analytics feed.

Session events carry a `seq` that grows by exactly one per event of a session. It is allocated and
published by one Lua script, so the order on the channel is the order of the numbers even when several
api processes publish at once. A subscriber reads the counter after subscribing and before reading its
snapshot; every queued event numbered at or below the snapshot's `seq` is already in it.

Presence lives in Redis so that every api process sees it: a participant is online while one of their
subscriptions holds a lease (refreshed every few seconds, so a crashed process's leases lapse) or while
their last heartbeat is younger than `PRESENCE_SECONDS`.
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from broadcast.hub import Event, Subscriber, hub, publish
from core.redis import redis
from models.base import utcnow
from models.classroom import HelpRequest, LiveSession, Participant, SessionStatus, Step, StepProgress

logger = logging.getLogger(__name__)

PRESENCE_SECONDS = 30
LEASE_REFRESH_SECONDS = 10
_KEY_TTL_SECONDS = 2 * 24 * 3600

# INCR and PUBLISH in one atomic step; the payload is a JSON object, so the seq is spliced in at its front.
_PUBLISH_SEQUENCED = """
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[1], '{"seq":' .. seq .. ',' .. string.sub(ARGV[2], 2))
return seq
"""


@dataclass(frozen=True)
class SequencedStream:
    """A channel whose events are numbered 1, 2, 3, … by a Redis counter."""

    channel: str
    counter: str

    async def publish(self, event: Event) -> int:
        payload = json.dumps({**event, "at": utcnow().isoformat()}, default=str)
        seq: int = await redis().eval(
            _PUBLISH_SEQUENCED, 1, self.counter, self.channel, payload, _KEY_TTL_SECONDS
        )
        return seq

    async def current(self) -> int:
        return int(await redis().get(self.counter) or 0)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[tuple[int, AsyncIterator[Event]]]:
        """The `seq` a snapshot taken now covers, and the events after it."""
        async with hub().subscribe(self.channel) as subscriber:
            seq = await self.current()
            yield seq, _after(subscriber, seq)


async def _after(subscriber: Subscriber, seq: int) -> AsyncIterator[Event]:
    async for event in subscriber:
        if event["seq"] > seq:
            yield event


def session_stream(session_id: uuid.UUID) -> SequencedStream:
    # The hash tag keeps both keys of a session on one Redis Cluster slot.
    return SequencedStream(f"session:{session_id}", f"{{session:{session_id}}}:seq")


def help_stream(session_id: uuid.UUID) -> SequencedStream:
    return SequencedStream(f"session:{session_id}:help", f"{{session:{session_id}}}:help-seq")


def presence_channel(session_id: uuid.UUID) -> str:
    return f"session:{session_id}:presence"


# Payloads: what subscribers render, so a fan-out costs no database read per subscriber.


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def step_payload(step: Step) -> dict[str, Any]:
    return {
        "id": str(step.id),
        "taskId": str(step.task_id),
        "order": step.position,
        "title": step.title,
        "description": step.description,
        "targetAction": step.target_action.value if step.target_action else None,
        "guideText": step.guide_text,
        "voiceGuideText": step.voice_guide_text,
        "targetHint": step.target_hint,
        "version": step.version,
        "removed": step.removed_at is not None,
    }


def participant_payload(participant: Participant) -> dict[str, Any]:
    return {
        "id": str(participant.id),
        "sessionId": str(participant.session_id),
        "userId": str(participant.user_id) if participant.user_id else None,
        "displayName": participant.display_name,
        "status": participant.status.value,
        "currentStepId": str(participant.current_step_id) if participant.current_step_id else None,
        "completedSteps": participant.completed_steps,
        "lastSeenAt": _iso(participant.last_seen_at),
    }


def progress_payload(progress: StepProgress, participant: Participant, step: Step) -> dict[str, Any]:
    return {
        "id": str(progress.id),
        "participant": participant_payload(participant),
        "step": step_payload(step),
        "status": progress.status.value,
        "attempts": progress.attempts,
        "startedAt": _iso(progress.started_at),
        "completedAt": _iso(progress.completed_at),
    }


def help_request_payload(request: HelpRequest, participant: Participant, step: Step | None) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "sessionId": str(request.session_id),
        "participant": participant_payload(participant),
        "step": step_payload(step) if step else None,
        "message": request.message,
        "status": request.status.value,
        "createdAt": _iso(request.created_at),
        "resolvedAt": _iso(request.resolved_at),
        "response": request.response,
        "diagnosis": request.diagnosis,
    }


def step_changed(step: Step, total_steps: int, message: str | None) -> Event:
    return {"type": "StepChanged", "step": step_payload(step), "totalSteps": total_steps, "message": message}


def status_changed(session: LiveSession, previous: SessionStatus) -> Event:
    return {"type": "SessionStatusChanged", "status": session.status.value, "previousStatus": previous.value}


def participant_joined(participant: Participant, count: int) -> Event:
    return {"type": "ParticipantJoined", "participant": participant_payload(participant), "count": count}


def participant_left(participant: Participant, count: int) -> Event:
    return {"type": "ParticipantLeft", "participant": participant_payload(participant), "count": count}


def instructor_message(message: str) -> Event:
    return {"type": "InstructorMessage", "message": message}


def progress_updated(progress: StepProgress, participant: Participant, step: Step) -> Event:
    return {"type": "ProgressUpdated", "progress": progress_payload(progress, participant, step)}


def help_request_event(kind: str, request: HelpRequest, participant: Participant, step: Step | None) -> Event:
    return {"type": kind, "request": help_request_payload(request, participant, step)}


# Presence.


def _presence_keys(session_id: uuid.UUID) -> tuple[str, str, str]:
    base = f"{{presence:{session_id}}}"
    return f"{base}:beats", f"{base}:leases", f"{base}:seen"


@dataclass(frozen=True)
class Presence:
    online: frozenset[uuid.UUID]
    last_seen: dict[uuid.UUID, datetime]

    def is_online(self, participant_id: uuid.UUID) -> bool:
        return participant_id in self.online


async def presence(session_id: uuid.UUID) -> Presence:
    beats, leases, seen = _presence_keys(session_id)
    fresh = time.time() - PRESENCE_SECONDS
    async with redis().pipeline(transaction=False) as pipe:
        pipe.zrangebyscore(beats, fresh, "+inf")
        pipe.zrangebyscore(leases, fresh, "+inf")
        pipe.hgetall(seen)
        beating, leased, last_seen = await pipe.execute()
    online = {uuid.UUID(member) for member in beating}
    online.update(uuid.UUID(member.partition("|")[0]) for member in leased)
    return Presence(
        online=frozenset(online),
        last_seen={uuid.UUID(pid): datetime.fromtimestamp(float(ts), UTC) for pid, ts in last_seen.items()},
    )


async def _touch(session_id: uuid.UUID, zset: str, member: str, participant_id: uuid.UUID) -> None:
    now = time.time()
    _, _, seen = _presence_keys(session_id)
    async with redis().pipeline(transaction=False) as pipe:
        pipe.zadd(zset, {member: now})
        pipe.zremrangebyscore(zset, "-inf", now - PRESENCE_SECONDS)
        pipe.hset(seen, str(participant_id), now)
        for key in _presence_keys(session_id):
            pipe.expire(key, _KEY_TTL_SECONDS)
        await pipe.execute()


async def _announce_presence(session_id: uuid.UUID) -> None:
    await publish(presence_channel(session_id), {"type": "PresenceChanged"})


async def heartbeat(session_id: uuid.UUID, participant_id: uuid.UUID) -> None:
    """Not announced: heartbeats are frequent, and the analytics feed re-reads presence on a timer."""
    beats, _, _ = _presence_keys(session_id)
    await _touch(session_id, beats, str(participant_id), participant_id)


@asynccontextmanager
async def presence_lease(session_id: uuid.UUID, participant_id: uuid.UUID) -> AsyncIterator[None]:
    """Keeps the participant online while the block runs (an open subscription)."""
    _, leases, seen = _presence_keys(session_id)
    member = f"{participant_id}|{uuid.uuid4().hex}"

    async def refresh() -> None:
        while True:
            await asyncio.sleep(LEASE_REFRESH_SECONDS)
            await _touch(session_id, leases, member, participant_id)

    await _touch(session_id, leases, member, participant_id)
    await _announce_presence(session_id)
    refresher = asyncio.create_task(refresh())
    try:
        yield
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        # Shielded: the subscription may be ending because its task was cancelled.
        await asyncio.shield(_release(session_id, leases, seen, member, participant_id))


async def _release(
    session_id: uuid.UUID, leases: str, seen: str, member: str, participant_id: uuid.UUID
) -> None:
    async with redis().pipeline(transaction=False) as pipe:
        pipe.zrem(leases, member)
        pipe.hset(seen, str(participant_id), time.time())
        await pipe.execute()
    await _announce_presence(session_id)


# The throttled feed: one computation per key and process, shared by every local subscriber.

T = TypeVar("T")


class _Latest(Generic[T]):
    """A one-slot mailbox: a reader that falls behind skips to the newest value."""

    def __init__(self) -> None:
        self._value: T | None = None
        self._ready = asyncio.Event()

    def put(self, value: T) -> None:
        self._value = value
        self._ready.set()

    async def get(self) -> T:
        await self._ready.wait()
        self._ready.clear()
        assert self._value is not None
        return self._value


class _Feed(Generic[T]):
    def __init__(
        self,
        channels: list[str],
        compute: Callable[[], Awaitable[T]],
        min_interval: float,
        refresh_interval: float,
    ) -> None:
        self.readers: set[_Latest[T]] = set()
        self.latest: T | None = None
        self._channels = channels
        self._compute = compute
        self._min_interval = min_interval
        self._refresh_interval = refresh_interval
        self._dirty = asyncio.Event()
        self._dirty.set()
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="classroom-feed")

    async def started(self) -> None:
        await self._ready.wait()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async with AsyncExitStack() as stack, asyncio.TaskGroup() as watchers:
            for channel in self._channels:
                subscriber = await stack.enter_async_context(hub().subscribe(channel))
                watchers.create_task(self._watch(subscriber))
            self._ready.set()
            while True:
                with contextlib.suppress(TimeoutError):
                    # Also on a timer: presence lapses and "stuck" thresholds pass without any event.
                    await asyncio.wait_for(self._dirty.wait(), self._refresh_interval)
                self._dirty.clear()
                await self._publish()
                await asyncio.sleep(self._min_interval)

    async def _publish(self) -> None:
        try:
            value = await self._compute()
        except Exception:
            logger.exception("feed computation failed")
            return
        if value != self.latest:
            self.latest = value
            for reader in self.readers:
                reader.put(value)

    async def _watch(self, subscriber: Subscriber) -> None:
        async for _ in subscriber:
            self._dirty.set()


_feeds: dict[Hashable, _Feed[Any]] = {}


@asynccontextmanager
async def throttled_feed(
    key: Hashable,
    channels: list[str],
    compute: Callable[[], Awaitable[T]],
    *,
    min_interval: float = 0.5,
    refresh_interval: float = 5.0,
) -> AsyncIterator[Callable[[], Awaitable[T]]]:
    """Values of `compute`, recomputed when any of `channels` has an event, at most once per
    `min_interval` for all of this process's subscribers of `key`, and only passed on when they change.

    Yields the function that awaits the next value; the first call answers with the current one.
    """
    feed: _Feed[T] | None = _feeds.get(key)
    if feed is None:
        feed = _feeds[key] = _Feed(channels, compute, min_interval, refresh_interval)
    reader: _Latest[T] = _Latest()
    feed.readers.add(reader)
    try:
        await feed.started()
        if feed.latest is not None:
            reader.put(feed.latest)
        yield reader.get
    finally:
        feed.readers.discard(reader)
        if not feed.readers and _feeds.get(key) is feed:
            del _feeds[key]
            await feed.stop()
