import uuid

from core.errors import NotFound


def parse_id(value: str, what: str) -> uuid.UUID:
    """IDs are opaque to clients; one that is not ours names nothing, so it is NOT_FOUND."""
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise NotFound(what) from error
