"""Automatic persisted queries (Apollo APQ), stored in Redis so every api process knows every hash.

A client first sends only `extensions.persistedQuery.sha256Hash`; on `PersistedQueryNotFound` it sends
the query with its hash once, and from then on the hash alone. The stored copy lives for the configured
TTL, renewed on every use.
"""

import hashlib
import re
from collections.abc import Mapping

from core.errors import BadInput, DomainError, ErrorCode
from core.redis import redis

APQ_VERSION = 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Anything longer is far beyond the token limit; storing it would only let a client fill Redis.
MAX_STORED_QUERY_LENGTH = 64 * 1024


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
    if len(query) <= MAX_STORED_QUERY_LENGTH:
        await redis().set(_key(sha256_hash), query, ex=ttl_seconds)
    return query
