"""Reading the fields of Stripe's objects as they arrive in webhooks and API answers (plain dicts)."""

from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]


def id_of(value: object) -> str | None:
    """An id, whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def time_of(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and value > 0 else None


def metadata_of(stripe_object: dict[str, Any]) -> dict[str, Any]:
    metadata = stripe_object.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def first_of(stripe_object: dict[str, Any], list_field: str) -> dict[str, Any]:
    """The first element of one of the object's lists (a subscription's `items`, an invoice's `lines`)."""
    elements = (stripe_object.get(list_field) or {}).get("data") or []
    first: dict[str, Any] = elements[0] if elements else {}
    return first
