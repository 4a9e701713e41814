"""`core.jsonio.read` reads what the json module reads, to the same values, and says whether orjson did."""

import math

import pytest

from core import jsonio


@pytest.mark.parametrize("data", ['{"a": [1, 2.5, "x", null, true]}', b'{"a": [1, 2.5, "x", null, true]}'])
def test_plain_json_is_read_by_orjson(data: str | bytes) -> None:
    assert jsonio.read(data) == ({"a": [1, 2.5, "x", None, True]}, True)


@pytest.mark.parametrize("data", ['{"n": 123456789012345678901234}', b'{"n": 123456789012345678901234}'])
def test_an_integer_beyond_64_bits_is_read_exactly_by_the_json_module(data: str | bytes) -> None:
    assert jsonio.read(data) == ({"n": 123456789012345678901234}, False)


def test_nan_and_an_unpaired_surrogate_are_read_by_the_json_module() -> None:
    value, exact = jsonio.read(b'{"x": NaN, "s": "\\ud800"}')
    assert (math.isnan(value["x"]), value["s"], exact) == (True, "\ud800", False)


@pytest.mark.parametrize("data", [b"\x00not json", b'{"a": 1', b"\xff\xfe"])
def test_invalid_json_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        jsonio.read(data)
