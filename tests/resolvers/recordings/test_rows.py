"""A batch built column by column gives exactly the rows the per-event loop gives (values, key order,
JSON bytes), and a batch it does not take goes to the loop, which converts it or names its first invalid
event as it always has.

Events are given as GraphQL coerces them: field names as keys, `occurredAt` a datetime.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from core.errors import BadInput
from models.base import utcnow
from resolvers.recordings.events import BatchChecker, _checked_rows, _rows_as_sent, recording_event_rows

RECORDING = uuid.uuid4()
SEOUL = timezone(timedelta(hours=9))

Spoil = Callable[[list[dict[str, Any]]], None]


def _batch(size: int = 30) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        {
            "eventId": str(uuid.uuid4()),
            "eventType": "TYPE_VIEW_CLICKED",
            "occurredAt": start + timedelta(milliseconds=n),
            "packageName": "com.kakao.talk",
            "className": "android.widget.Button" if n % 3 else None,
            "text": f"Button {n}",
            "contentDescription": None,
            "viewId": f"com.kakao.talk:id/button_{n}",
            "bounds": "[0,0][10,10]" if n % 2 else None,
            "isSensitive": None,
            "data": None,
        }
        for n in range(size)
    ]


def _set(index: int, **values: Any) -> Spoil:
    def spoil(events: list[dict[str, Any]]) -> None:
        events[index].update(values)

    return spoil


def _drop(index: int, name: str) -> Spoil:
    def spoil(events: list[dict[str, Any]]) -> None:
        del events[index][name]

    return spoil


def _each(*spoils: Spoil) -> Spoil:
    def spoil(events: list[dict[str, Any]]) -> None:
        for each in spoils:
            each(events)

    return spoil


# Batches the columns take: each must give the loop's rows.
TAKEN: dict[str, Spoil] = {
    "plain ASCII": lambda events: None,
    "Korean text in NFC": _set(3, text="친구에게 보내기", contentDescription="보내기\n버튼"),
    "times with an offset": _set(4, occurredAt=datetime.now(SEOUL) - timedelta(minutes=3)),
    "a sensitive event": _set(5, isSensitive=True, text="secret"),
    "a password field by its view id": _set(6, viewId="app:id/Password_box", text="hunter2"),
    "a password field by its class": _set(7, className="PasswdEditText", text="hunter2"),
    "data, one of it marking a password": _each(
        _set(1, data={"scroll": [1, 2.5, None], "label": "x"}),
        _set(8, data={"isPassword": True}, text="hunter2"),
    ),
    "isSensitive false": _set(9, isSensitive=False),
    "tabs and newlines inside multi-line text": _set(2, text="a\tb\nc"),
    "an absent optional field": _drop(15, "bounds"),
}

# Batches the columns leave to the loop: each must give the loop's rows or its error.
LEFT: dict[str, Spoil] = {
    "an upper-case UUID": _set(10, eventId=str(uuid.uuid4()).upper()),
    "a UUID without hyphens": _set(10, eventId=uuid.uuid4().hex),
    "not a UUID": _set(10, eventId="not-a-uuid"),
    "untrimmed text": _set(11, text="  Button  "),
    "an empty string": _set(11, viewId=""),
    "text in NFD": _set(11, text="cafe\u0301"),
    "a control character": _set(11, className="A\u0085B"),
    "a carriage return in multi-line text": _set(11, text="line\r\n"),
    "an unpaired surrogate": _set(11, text="\ud800"),
    "text too long": _set(11, packageName="p" * 256),
    "an empty event type": _set(12, eventType="  "),
    "an event type too long": _set(12, eventType="x" * 65),
    "a naive time": _set(13, occurredAt=datetime.now().replace(tzinfo=None)),
    "a time in the future": _set(13, occurredAt=datetime.now(UTC) + timedelta(hours=1)),
    "a time too far in the past": _set(13, occurredAt=datetime.now(UTC) - timedelta(days=8)),
    "data too large": _set(14, data={"blob": "x" * 5000}),
    "data with NaN": _set(14, data={"x": float("nan")}),
    "an absent event id": _drop(15, "eventId"),
    "several bad events": _each(_set(20, text="\x00"), _set(16, eventType="")),
}


def _outcome(build: Callable[[], list[dict[str, Any]]]) -> Any:
    """The rows, or the error: for BadInput its message, field and extensions."""
    try:
        return build()
    except BadInput as error:
        return (error.message, error.field, error.extra)
    except KeyError as error:
        return repr(error)


def _loop(events: list[dict[str, Any]], now: datetime) -> Any:
    return _outcome(lambda: _checked_rows(str(RECORDING), now.isoformat(), BatchChecker(now), events))


@pytest.mark.parametrize("name", TAKEN)
def test_the_columns_give_the_loops_rows(name: str) -> None:
    events = _batch()
    TAKEN[name](events)
    now = utcnow()
    rows = _rows_as_sent(str(RECORDING), now.isoformat(), BatchChecker(now), events)
    assert rows is not None
    expected = _loop(events, now)
    assert rows == expected
    assert orjson.dumps(rows) == orjson.dumps(expected)


@pytest.mark.parametrize("name", LEFT)
def test_a_batch_the_columns_leave_is_the_loops(name: str) -> None:
    events = _batch()
    LEFT[name](events)
    now = utcnow()
    assert _rows_as_sent(str(RECORDING), now.isoformat(), BatchChecker(now), events) is None
    expected = _loop(events, now)
    actual = _outcome(lambda: recording_event_rows(RECORDING, events))
    if isinstance(expected, list):
        # received_at is the call's own clock.
        for row in [*expected, *actual]:
            row.pop("received_at")
    assert actual == expected


def test_secrets_are_not_kept() -> None:
    # The comparison above would pass if both ways were wrong alike: pin the secret rule down.
    events = _batch(10)
    events[1].update(isSensitive=True, text="pin 1234")
    events[2].update(viewId="app:id/password", text="hunter2")
    rows = recording_event_rows(RECORDING, events)
    assert [(row["text"], row["is_sensitive"]) for row in rows[:4]] == [
        ("Button 0", False),
        (None, True),
        (None, True),
        ("Button 3", False),
    ]
