"""Reading JSON with orjson, many times faster than the json module, without reading it differently."""

import json
import re
from typing import Any

import orjson

# 19 digits or more may be an integer beyond 64 bits, which orjson would turn into a float.
_LONG_NUMBER = re.compile(r"\d{19}")
_LONG_NUMBER_BYTES = re.compile(rb"\d{19}")


def read(data: str | bytes) -> tuple[Any, bool]:
    """The value, and whether orjson read it. Whatever orjson would read differently from the json module
    (long integers) or not at all (NaN, Infinity, an unpaired surrogate) the json module reads; orjson
    writes back exactly what it read, the json module what it read. Raises ValueError on invalid JSON."""
    long_number = _LONG_NUMBER_BYTES if isinstance(data, bytes) else _LONG_NUMBER
    if not long_number.search(data):  # type: ignore[arg-type]  # the pattern matches the data's type
        try:
            return orjson.loads(data), True
        except orjson.JSONDecodeError:
            pass
    return json.loads(data), False


def loads(data: str | bytes) -> Any:
    """`json.loads`, faster."""
    return read(data)[0]
