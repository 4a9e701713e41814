"""Presence: who is looking at a session right now, kept in Redis so every api process sees it.

A participant is online while one of their subscriptions holds a lease (refreshed every few seconds, so
a crashed process's leases lapse) or while their last heartbeat is younger than `PRESENCE_SECONDS`.
"""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError

from broadcast.events import BroadcastEvent
from broadcast.streams import KEY_TTL_SECONDS
from core.redis import redis
from core.timers import Timer

logger = logging.getLogger(__name__)

PRESENCE_SECONDS = 30
LEASE_REFRESH_SECONDS = 10
# After a failed refresh (Redis unreachable), try again this soon: the lease must be back well within
# PRESENCE_SECONDS of Redis returning.
LEASE_RETRY_SECONDS = 1


class PresenceChanged(BroadcastEvent):
    """Someone's subscription opened or closed; readers re-read `presence`."""


def presence_channel(session_id: uuid.UUID) -> str:
    return f"session:{session_id}:presence"


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


# One round trip per touch: the member's score, the lapsed ones dropped, when the participant was last
# seen, the keys' expiry, and (when ARGV[6] names a channel) the announcement that presence changed.
_TOUCH = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[2])
for i = 2, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
"""
# A lease given back, and announced, in one round trip.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
"""


def _announcement() -> str:
    return json.dumps(PresenceChanged().payload(), default=str)


async def _touch(
    session_id: uuid.UUID, zset: str, member: str, participant_id: uuid.UUID, *, announce: bool = False
) -> None:
    now = time.time()
    beats, leases, seen = _presence_keys(session_id)
    channel, payload = (presence_channel(session_id), _announcement()) if announce else ("", "")
    await redis().eval(  # type: ignore[misc]  # redis-py types eval as sync-or-async
        _TOUCH,
        4,
        zset,
        seen,
        beats,
        leases,
        member,
        str(now),
        str(now - PRESENCE_SECONDS),
        str(participant_id),
        str(KEY_TTL_SECONDS),
        channel,
        payload,
    )


async def heartbeat(session_id: uuid.UUID, participant_id: uuid.UUID) -> None:
    """Not announced: heartbeats are frequent, and the analytics feed re-reads presence on a timer."""
    beats, _, _ = _presence_keys(session_id)
    await _touch(session_id, beats, str(participant_id), participant_id)


@asynccontextmanager
async def presence_lease(session_id: uuid.UUID, participant_id: uuid.UUID) -> AsyncIterator[None]:
    """Keeps the participant online while the block runs (an open subscription)."""
    _, leases, seen = _presence_keys(session_id)
    member = f"{participant_id}|{uuid.uuid4().hex}"

    async def refresh() -> float:
        # Outlives Redis outages: a failed refresh is retried until Redis answers again, so a participant
        # whose subscription stayed open is online again as soon as Redis is back.
        try:
            await _touch(session_id, leases, member, participant_id)
        except RedisError as error:
            logger.warning("presence lease refresh failed, retrying: %s", error)
            return LEASE_RETRY_SECONDS
        return LEASE_REFRESH_SECONDS

    await _touch(session_id, leases, member, participant_id, announce=True)
    # A timer, not a task per open subscription: thousands of phones hold a lease each.
    refresher = Timer(refresh, "presence-lease")
    refresher.start(LEASE_REFRESH_SECONDS)
    try:
        yield
    finally:
        await refresher.stop()
        # Shielded: the subscription may be ending because its task was cancelled.
        await asyncio.shield(_release(session_id, leases, seen, member, participant_id))


async def _release(
    session_id: uuid.UUID, leases: str, seen: str, member: str, participant_id: uuid.UUID
) -> None:
    try:
        await redis().eval(  # type: ignore[misc]  # redis-py types eval as sync-or-async
            _RELEASE,
            2,
            leases,
            seen,
            member,
            str(participant_id),
            str(time.time()),
            presence_channel(session_id),
            _announcement(),
        )
    except RedisError as error:
        # Not refreshed any more, the lease lapses by itself within PRESENCE_SECONDS.
        logger.warning("presence lease release failed: %s", error)
