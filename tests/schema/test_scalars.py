"""DateTime values are parsed by the standard library where its reading is the same as dateutil's
(Strawberry's parser), and by dateutil everywhere else: every value is accepted or refused as before,
as the same instant."""

import random
from datetime import datetime
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition

from schema.scalars import DATETIME


def reading(parse: Any, value: object) -> tuple[str, Any] | str:
    try:
        parsed: datetime = parse(value)
    except StrawberryInputCoercionError as error:
        return f"refused: {error}"
    return parsed.isoformat(), parsed.utcoffset()


def common_shapes(count: int) -> list[str]:
    """Timestamps in the shape phones send, with out-of-range parts and offsets mixed in."""
    rnd = random.Random(7)
    values = []
    for _ in range(count):
        value = "%04d-%02d-%02dT%02d:%02d:%02d" % (  # noqa: UP031
            rnd.choice([1, 1970, 2024, 9999]),
            rnd.randrange(0, 14),
            rnd.randrange(0, 33),
            rnd.randrange(0, 26),
            rnd.randrange(0, 61),
            rnd.randrange(0, 62),
        )
        if rnd.random() < 0.5:
            value += "." + "".join(rnd.choice("0123456789") for _ in range(rnd.randrange(1, 8)))
        value += rnd.choice(["", "Z", "+00:00", "-09:30", "+23:59", "+24:00", "+14:60", "+09"])
        values.append(value)
    return values


ODD = [
    "2024-01-01T24:00:00Z",  # dateutil reads hour 24, the standard library does not
    "2024-01-011030Z",  # the standard library reads this (wrongly), dateutil refuses it
    "2024-01-01T10:00:00+05:30:15",
    "2024-032",
    "20240101T100000Z",
    "2024-01-01 10:00",
    "2024-W01-1T10:00",
    "not a date",
    "",
    12,
    None,
]


def test_every_value_reads_as_it_did_with_dateutil() -> None:
    assert DATETIME.parse_value is not None and DateTimeDefinition.parse_value is not None
    differing = [
        value
        for value in [*common_shapes(20_000), *ODD]
        if reading(DATETIME.parse_value, value) != reading(DateTimeDefinition.parse_value, value)
    ]
    assert differing == []
