"""Automatic persisted queries (Apollo APQ), stored in Redis so every api process knows every hash.

A client first sends only `extensions.persistedQuery.sha256Hash`; on `PersistedQueryNotFound` it sends
the query with its hash once, and from then on the hash alone. The stored copy lives for the configured
TTL, renewed on every use.

A query sent with its hash is only a candidate (`pending_registration`) until the schema has parsed and
validated it; then `register` stores it, if it is no larger than the configured cap and the client has
not used up its registrations (core/ratelimit.APQ_REGISTRATIONS). Otherwise it still runs, unstored:
nobody can fill Redis with text that is not one of our operations.
"""

import hashlib
import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from core.errors import BadInput, DomainError, ErrorCode, RateLimited
from core.ratelimit import APQ_REGISTRATIONS
from core.redis import redis

logger = logging.getLogger(__name__)

APQ_VERSION = 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Registration:
    sha256_hash: str
    query: str


# Set while reading each request (HTTP body, websocket subscribe), read by the schema once it validated.
_pending: ContextVar[Registration | None] = ContextVar("apq_registration", default=None)


class PersistedQueryNotFound(DomainError):
    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND

    def __init__(self) -> None:
        # Apollo clients recognise this exact message (older ones only the message, not the code).
        super().__init__("PersistedQueryNotFound")


def query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _key(sha256_hash: str) -> str:
    return f"apq:{sha256_hash}"


async def resolve_query(query: str | None, extensions: object, ttl_seconds: int) -> str | None:
    """The query to run: the one sent, or the stored one its hash names.

    A query sent with a hash is stored under that hash if they match, and refused if they do not.
    """
    _pending.set(None)
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    if persisted is None:
        return query
    if not isinstance(persisted, Mapping) or persisted.get("version") != APQ_VERSION:
        raise BadInput("Unsupported persisted query version", field="extensions.persistedQuery")
    sha256_hash = persisted.get("sha256Hash")
    if not isinstance(sha256_hash, str) or not _SHA256_HEX.fullmatch(sha256_hash.lower()):
        raise BadInput("sha256Hash must be 64 hexadecimal digits", field="extensions.persistedQuery")
    sha256_hash = sha256_hash.lower()
    if query is None:
        stored: str | None = await redis().getex(_key(sha256_hash), ex=ttl_seconds)
        if stored is None:
            raise PersistedQueryNotFound()
        return stored
    if query_hash(query) != sha256_hash:
        raise BadInput("provided sha does not match query", field="extensions.persistedQuery")
    _pending.set(Registration(sha256_hash, query))
    return query


def pending_registration() -> Registration | None:
    """The query this request sent with its hash, not yet stored."""
    return _pending.get()


async def register(client: str, *, ttl_seconds: int, max_bytes: int) -> bool:
    """Stores this request's pending query (call it once the document parsed and validated); False when
    there was none, it is over `max_bytes`, or `client` registered too many lately."""
    registration = _pending.get()
    _pending.set(None)
    if registration is None:
        return False
    if len(registration.query.encode()) > max_bytes:
        return False
    try:
        await APQ_REGISTRATIONS.enter(client)
    except RateLimited:
        logger.warning("persisted query not stored: %s registered too many", client)
        return False
    await redis().set(_key(registration.sha256_hash), registration.query, ex=ttl_seconds)
    return True
