"""One rule for every piece of text a client sends, and the limits that go with it.

Text is normalised to Unicode NFC and trimmed. NUL and the other control characters are refused, not
stripped: Postgres cannot store NUL in `text` or `jsonb`, and a control character in a name or a title is
never what a person meant to type. Multi-line fields keep newlines and tabs. Free-form JSON headed for a
`jsonb` column is checked by the same rule, plus finite numbers (`jsonb` has no NaN or Infinity).
"""

import math
import re
import unicodedata
from typing import Any

from core.errors import BadInput

TITLE = 200
NAME = 255
TEXT = 2000
MESSAGE = 500
SHORT = 64
LANGUAGE = 16
# Deeply nested JSON costs recursion on every reader; nobody's event data needs more than this.
MAX_JSON_DEPTH = 16

# Unicode's control characters (category Cc) are exactly U+0000 to U+001F and U+007F to U+009F, a set
# Unicode promises never to change; one regex search finds them without a Python loop over the characters.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# The same, less the newline and tab that multi-line fields keep.
_CONTROL_IN_MULTI_LINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _is_utf8(value: str) -> bool:
    """False for a string holding an unpaired surrogate (JSON allows "\\ud800"; UTF-8, and so Postgres,
    does not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_control(value: str, field: str, *, multi_line: bool) -> None:
    # isascii() reads a flag the string already carries: ASCII is always valid UTF-8.
    if not value.isascii() and not _is_utf8(value):
        raise BadInput(f"{field} must be valid Unicode text", field=field)
    if (_CONTROL_IN_MULTI_LINE if multi_line else _CONTROL).search(value):
        raise BadInput(f"{field} must not contain control characters", field=field)


def clean(
    value: str | None,
    field: str,
    *,
    max_length: int,
    required: bool = False,
    multi_line: bool = False,
    collapse_spaces: bool = False,
) -> str | None:
    """The stored form of `value`: NFC, trimmed (runs of whitespace collapsed when asked), or None when
    empty. Raises BadInput naming `field` when it is required and empty, too long, or holds control
    characters."""
    if value is None:
        cleaned = ""
    else:
        _refuse_control(value, field, multi_line=multi_line)
        # ASCII is its own NFC form.
        cleaned = value if value.isascii() else unicodedata.normalize("NFC", value)
        cleaned = " ".join(cleaned.split()) if collapse_spaces else cleaned.strip()
    if not cleaned:
        if required:
            raise BadInput(f"{field} must not be empty", field=field)
        return None
    if len(cleaned) > max_length:
        raise BadInput(f"{field} must be at most {max_length} characters", field=field)
    return cleaned


def kept_as_is(values: list[str], *, max_length: int, multi_line: bool = False) -> bool:
    """Whether `clean` returns every one of `values` as it is: none empty, too long, untrimmed, outside
    NFC or holding a control character. A few passes over the whole list, for a batch whose text is
    already clean (the usual case) instead of calls per value; False says only that some value needs
    `clean`."""
    if not values:
        return True
    joined = "".join(values)
    if (_CONTROL_IN_MULTI_LINE if multi_line else _CONTROL).search(joined):
        return False
    if not joined.isascii() and not (_is_utf8(joined) and all(map(_is_nfc, values))):
        return False
    return all(values) and max(map(len, values)) <= max_length and list(map(str.strip, values)) == values


def _is_nfc(value: str) -> bool:
    return unicodedata.is_normalized("NFC", value)


def required(value: str | None, field: str, *, max_length: int, multi_line: bool = False) -> str:
    """`clean` for a field that must hold text."""
    cleaned = clean(value, field, max_length=max_length, required=True, multi_line=multi_line)
    assert cleaned is not None
    return cleaned


# BCP-47 in shape, not by registry: a language subtag, then hyphenated subtags (`ko`, `en-US`, `zh-Hant-TW`).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")


def language_tag(value: str | None, field: str) -> str:
    """A language tag such as `ko` or `en-US`, trimmed and kept as typed; BadInput naming `field`
    otherwise."""
    cleaned = clean(value, field, max_length=LANGUAGE) or ""
    if not _LANGUAGE_TAG.fullmatch(cleaned):
        raise BadInput("Language must be a language tag such as ko or en-US", field=field)
    return cleaned


def check_json(value: Any, field: str) -> None:
    """Raises BadInput unless `value` is JSON that a `jsonb` column stores as it is: no NUL in any string
    or key, finite numbers, nesting at most MAX_JSON_DEPTH deep."""
    _check_json(value, field, 0)


def _check_json(value: Any, field: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise BadInput(f"{field} is nested more than {MAX_JSON_DEPTH} levels deep", field=field)
    if isinstance(value, str):
        if "\x00" in value:
            raise BadInput(f"{field} must not contain NUL characters", field=field)
        if not _is_utf8(value):
            raise BadInput(f"{field} must be valid Unicode text", field=field)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadInput(f"{field} must hold finite numbers only", field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key or not _is_utf8(key):
                raise BadInput(f"{field} must have text keys without NUL characters", field=field)
            _check_json(item, field, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, field, depth + 1)
    elif value is not None and not isinstance(value, bool | int):
        raise BadInput(f"{field} must be JSON", field=field)
