"""Rate limits shared by every api process: token buckets in Redis, changed atomically by one Lua script.

A limit keeps one bucket per key (usually the client's address). The bucket holds up to `capacity`
tokens and refills at `refill_per_second`. An attempt takes one token to be let in, and what it finally
costs is settled by how it went: `success_cost` or `failure_cost`. That is what lets a whole classroom
behind one school NAT sign in within a minute while a password-guessing script runs dry after a handful
of tries: failures cost several times what successes do.

Taking the token up front bounds a parallel burst by what the bucket holds; settling afterwards may take
the bucket below zero, and that debt is worked off (by waiting) before the next attempt. The time is
Redis's own, so api processes with drifting clocks share one consistent bucket.
"""

import ipaddress
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.errors import DomainError, RateLimited
from core.redis import redis

# ARGV: capacity, refill per second, cost, and the fewest tokens the bucket must hold for the cost to be
# taken (an empty string: taken unconditionally). Returns {1 or 0 (taken or not), tokens now}.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local minimum = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = capacity
if state[1] then
  tokens = math.min(capacity, tonumber(state[1]) + (now - tonumber(state[2])) * rate)
end
local taken = 0
if minimum == nil or tokens >= minimum then
  tokens = math.min(capacity, tokens - cost)
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {taken, tostring(tokens)}
"""
ENTRY_COST = 1.0
UNKNOWN_CLIENT = "unknown"
# One IPv6 subscriber usually owns a whole /64; counting single addresses would let them rotate freely.
_IPV6_PREFIX = 64


def client_key(address: str | None) -> str:
    """The bucket key for a client address."""
    if not address:
        return UNKNOWN_CLIENT
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, _IPV6_PREFIX), strict=False))
    return str(ip)


@dataclass(frozen=True)
class RateLimit:
    name: str
    capacity: float
    refill_per_second: float
    success_cost: float = 1.0
    failure_cost: float = 1.0

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.refill_per_second <= 0:
            raise ValueError("a rate limit needs capacity >= 1 and a positive refill rate")

    def _key(self, key: str) -> str:
        return f"ratelimit:{self.name}:{key}"

    async def _take(self, key: str, cost: float, minimum: float | None) -> tuple[bool, float]:
        arguments = (self.capacity, self.refill_per_second, cost, "" if minimum is None else minimum)
        taken, tokens = await redis().eval(_TAKE, 1, self._key(key), *map(str, arguments))  # type: ignore[misc]  # redis-py types eval as sync-or-async
        return bool(taken), float(tokens)

    async def tokens(self, key: str) -> float:
        """What the bucket holds now (below zero while a burst's debt is being worked off)."""
        return (await self._take(key, 0, None))[1]

    def _refusal(self, tokens: float) -> RateLimited:
        return RateLimited(math.ceil((ENTRY_COST - tokens) / self.refill_per_second))

    async def enter(self, key: str) -> None:
        """Takes the entry token, or raises RateLimited when the bucket does not hold one."""
        taken, tokens = await self._take(key, ENTRY_COST, ENTRY_COST)
        if not taken:
            raise self._refusal(tokens)

    async def check(self, key: str) -> None:
        """Raises RateLimited when the bucket does not hold an entry token, taking nothing: for limits
        that only failures pay for (`charge` them)."""
        tokens = await self.tokens(key)
        if tokens < ENTRY_COST:
            raise self._refusal(tokens)

    async def charge(self, key: str, cost: float) -> None:
        """Takes `cost` tokens whatever the bucket holds (a negative cost gives tokens back)."""
        if cost:
            await self._take(key, cost, None)

    @asynccontextmanager
    async def attempt(
        self, key: str, *, failures: tuple[type[BaseException], ...] = (DomainError,)
    ) -> AsyncIterator[None]:
        """Enters, runs the block, then settles the failure cost if it raised one of `failures`, the
        success cost otherwise (an internal error is not the client's fault)."""
        await self.enter(key)
        cost = self.success_cost
        try:
            yield
        except failures:
            cost = self.failure_cost
            raise
        finally:
            await self.charge(key, cost - ENTRY_COST)


# The policies, per client address and shared by every api process.
# A class of 40 behind one school NAT signing in within a minute with a dozen typos costs 40 + 12 * 5 = 100;
# a script guessing passwords gets 20 tries, then one every 10 s. Registration refills slower: it is what
# spam accounts are made with.
LOGIN = RateLimit("login", capacity=100, refill_per_second=0.5, success_cost=1, failure_cost=5)
REGISTER = RateLimit("register", capacity=100, refill_per_second=0.1, success_cost=1, failure_cost=5)
# Only failed lookups cost a token, so a whole school behind one NAT address can join a real session at
# once, while a script guessing codes gets 10 tries and then one more every 6 seconds.
JOIN_CODE_GUESSES = RateLimit("join-code", capacity=10, refill_per_second=1 / 6)
# Per participant: a help request is a notification to the instructor, so a stuck button mashed in
# panic gives five at once and then one every 12 seconds (five a minute).
HELP_REQUESTS = RateLimit("help-request", capacity=5, refill_per_second=5 / 60)
# Each persisted-query registration stores a document in Redis for days. An app registers each of its
# few dozen operations once per install; past a burst of 100 a client gets one every 10 s (the query
# still runs, unstored).
APQ_REGISTRATIONS = RateLimit("apq-register", capacity=100, refill_per_second=0.1)
# Per user: learning events are taps and focus changes, a few a minute; a client looping on them gets a
# burst of 60 and then one a second, so nobody can flood a session's analysis and its subscribers.
LEARNING_EVENTS = RateLimit("learning-event", capacity=60, refill_per_second=1)
# Per member of a study room: people chat in bursts, so ten at once, then one a second (a lively chat's
# pace); a client looping on sendStudyRoomMessage cannot flood the room's subscribers.
STUDY_ROOM_MESSAGES = RateLimit("study-room-message", capacity=10, refill_per_second=1)

# Per user: each phone verification code is an SMS we pay for and a text to someone's phone; three codes,
# then one more every 200 s (three per ten minutes).
PHONE_CODES = RateLimit("phone-code", capacity=3, refill_per_second=3 / 600)
