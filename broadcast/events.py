"""Typed event payloads: one convention for every domain's pub/sub messages.

An event is a frozen Pydantic model subclassing `BroadcastEvent`; its class name is its `type`. On the
wire it is one JSON object, `{"type": <class name>, <fields in snake_case>}`; sequenced streams add
`seq` and `at` (see broadcast/streams). `decode` turns such an object back into its class and refuses a
type it does not know, loudly: a message nobody can read is a bug, never something to guess at.
"""

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_TYPES: dict[str, type["BroadcastEvent"]] = {}


class UnknownEvent(ValueError):
    """A message whose `type` no event class declares."""


class BroadcastEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The stream position and publish time, set by a sequenced stream; None on unsequenced channels.
    seq: int | None = None
    at: datetime | None = None

    type_name: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        name = cls.__name__
        if name in _TYPES:
            raise TypeError(f"two broadcast events are named {name}")
        cls.type_name = name
        _TYPES[name] = cls

    def payload(self) -> dict[str, Any]:
        """The JSON object published for this event."""
        return {"type": self.type_name, **self.model_dump(mode="json", exclude_none=False)}


def decode(message: dict[str, Any]) -> BroadcastEvent:
    """The event a published JSON object stands for. Raises UnknownEvent for an unknown `type`, and
    pydantic's ValidationError for a payload that does not fit its class."""
    fields = dict(message)
    name = fields.pop("type", None)
    event_class = _TYPES.get(name) if isinstance(name, str) else None
    if event_class is None:
        raise UnknownEvent(f"unknown broadcast event type {name!r}")
    return event_class.model_validate(fields)
