"""The control-character rule of `core.text`, checked against Unicode's own categories for every code
point: a regex now finds them, and it must refuse exactly category Cc (less newline and tab in
multi-line fields) and nothing else."""

import sys
import unicodedata

import pytest

from core import text
from core.errors import BadInput

SURROGATES = range(0xD800, 0xE000)


def refused(value: str, *, multi_line: bool) -> bool:
    try:
        text.clean(f"a{value}b", "field", max_length=10, multi_line=multi_line)
    except BadInput:
        return True
    return False


@pytest.mark.parametrize("multi_line", [False, True])
def test_exactly_the_control_characters_are_refused(multi_line: bool) -> None:
    kept = {"\n", "\t"} if multi_line else set()
    wrong = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if code not in SURROGATES
        and refused(chr(code), multi_line=multi_line)
        != (unicodedata.category(chr(code)) == "Cc" and chr(code) not in kept)
    ]
    assert wrong == []


def test_text_is_stored_trimmed_and_composed() -> None:
    assert text.clean("  Cafe\u0301  ", "f", max_length=10) == "Caf\u00e9"
    assert text.clean(" plain ascii ", "f", max_length=20) == "plain ascii"
    assert text.clean("   ", "f", max_length=10) is None


def test_an_unpaired_surrogate_is_refused_before_any_control_character() -> None:
    with pytest.raises(BadInput) as refusal:
        text.clean("\ud800\x00", "field", max_length=10)
    assert refusal.value.message == "field must be valid Unicode text"
