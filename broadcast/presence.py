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
from core.coalesce import Coalesced
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


# One round trip per touch, for any number of (member, participant) pairs (ARGV[6] on): each member's
# score, the lapsed ones dropped, when each participant was last seen, the keys' expiry, and (when ARGV[4]
# names a channel) one announcement that presence changed.
_TOUCH = """
for i = 6, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
for i = 2, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
"""
# Leases given back (pairs from ARGV[4] on), and announced once, in one round trip.
_RELEASE = """
for i = 4, #ARGV, 2 do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
"""

# (member, participant): a lease's sorted-set member and whom it keeps online.
Lease = tuple[str, uuid.UUID]


def _announcement() -> str:
    return json.dumps(PresenceChanged().payload(), default=str)


def _pairs(leases: list[Lease]) -> list[str]:
    return [value for member, participant_id in leases for value in (member, str(participant_id))]


async def _touch(session_id: uuid.UUID, zset: str, leases: list[Lease], *, announce: bool = False) -> None:
    now = time.time()
    beats, lease_key, seen = _presence_keys(session_id)
    channel, payload = (presence_channel(session_id), _announcement()) if announce else ("", "")
    await redis().eval(  # type: ignore[misc]  # redis-py types eval as sync-or-async
        _TOUCH,
        4,
        zset,
        seen,
        beats,
        lease_key,
        str(now),
        str(now - PRESENCE_SECONDS),
        str(KEY_TTL_SECONDS),
        channel,
        payload,
        *_pairs(leases),
    )


async def heartbeat(session_id: uuid.UUID, participant_id: uuid.UUID) -> None:
    """Not announced: heartbeats are frequent, and the analytics feed re-reads presence on a timer."""
    beats, _, _ = _presence_keys(session_id)
    await _touch(session_id, beats, [(str(participant_id), participant_id)])


async def _take(session_id: uuid.UUID, leases: list[Lease]) -> list[None]:
    _, lease_key, _ = _presence_keys(session_id)
    await _touch(session_id, lease_key, leases, announce=True)
    return [None for _ in leases]


async def _give_back(session_id: uuid.UUID, leases: list[Lease]) -> list[None]:
    _, lease_key, seen = _presence_keys(session_id)
    try:
        await redis().eval(  # type: ignore[misc]  # redis-py types eval as sync-or-async
            _RELEASE,
            2,
            lease_key,
            seen,
            str(time.time()),
            presence_channel(session_id),
            _announcement(),
            *_pairs(leases),
        )
    except RedisError as error:
        # Not refreshed any more, the leases lapse by themselves within PRESENCE_SECONDS.
        logger.warning("presence lease release failed: %s", error)
    return [None for _ in leases]


# A class opening the app together takes its leases in one round trip per session, and gives them back so.
_taken = Coalesced(_take)
_given_back = Coalesced(_give_back)


class _Held:
    """The leases this process holds on one session, refreshed together: one round trip every
    LEASE_REFRESH_SECONDS for all of them, where thousands of phones would each pay one."""

    def __init__(self, session_id: uuid.UUID) -> None:
        self.session_id = session_id
        self.loop = asyncio.get_running_loop()
        self.leases: dict[str, uuid.UUID] = {}
        self._refreshed = asyncio.Event()
        self._refreshed.set()
        self._timer = Timer(self._refresh, "presence-leases")

    def add(self, lease: Lease) -> None:
        self.leases[lease[0]] = lease[1]
        self._timer.start(LEASE_REFRESH_SECONDS)

    async def remove(self, member: str) -> None:
        """Out of the refreshes; once a refresh that was under way (and may write it again) is done."""
        del self.leases[member]
        await self._refreshed.wait()
        if not self.leases and _held.get(self.session_id) is self:
            del _held[self.session_id]
            await self._timer.stop()

    async def _refresh(self) -> float:
        # Outlives Redis outages: a failed refresh is retried until Redis answers again, so participants
        # whose subscriptions stayed open are online again as soon as Redis is back.
        _, lease_key, _ = _presence_keys(self.session_id)
        self._refreshed.clear()
        try:
            await _touch(self.session_id, lease_key, list(self.leases.items()))
        except RedisError as error:
            logger.warning("presence lease refresh failed, retrying: %s", error)
            return LEASE_RETRY_SECONDS
        finally:
            self._refreshed.set()
        return LEASE_REFRESH_SECONDS


_held: dict[uuid.UUID, _Held] = {}


@asynccontextmanager
async def presence_lease(session_id: uuid.UUID, participant_id: uuid.UUID) -> AsyncIterator[None]:
    """Keeps the participant online while the block runs (an open subscription)."""
    lease = (f"{participant_id}|{uuid.uuid4().hex}", participant_id)
    await _taken(session_id, lease)
    held = _held.get(session_id)
    if held is None or held.loop is not asyncio.get_running_loop():
        held = _held[session_id] = _Held(session_id)
    held.add(lease)
    try:
        yield
    finally:
        # Shielded: the subscription may be ending because its task was cancelled.
        await asyncio.shield(_leave(held, lease))


async def _leave(held: _Held, lease: Lease) -> None:
    await held.remove(lease[0])
    await _given_back(held.session_id, lease)
