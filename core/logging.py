"""JSON-lines logging with the request id, operation name and user id of the current request.

Nothing here ever logs a request body, query string or header: that is where passwords and tokens travel.
As a second line of defence, the formatter redacts by name: any structured field whose name says it holds
a secret (passwords, tokens, codes, keys), at any depth, and `name: value` pairs of such names in message
and exception text.
"""

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from core.settings import get_settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
operation_var: ContextVar[str | None] = ContextVar("operation_name", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

# Uvicorn installs its own plain-text handlers on these; its access log would also print query strings,
# which for GET /graphql carry the variables. Our access log line replaces it.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
_UVICORN_ACCESS_LOGGER = "uvicorn.access"


REDACTED = "[REDACTED]"
# A name ends in one of these (any case, `_` or `-` ignored): password, newPassword, refresh_token,
# participantToken, authorization, instructorInviteCode, code, secret_key, apiKey…
_SENSITIVE_ENDINGS = (
    "password",
    "passwd",
    "secret",
    "secretkey",
    "token",
    "authorization",
    "cookie",
    "apikey",
    "code",
)
# `password: x`, `"password": "x"`, `'token'='x'`, `Authorization: Bearer x` inside free text.
_SENSITIVE_PAIR = re.compile(
    r"""(?i)(["']?\b[\w-]*(?:pass(?:word|wd)|secret(?:[_-]?key)?|token|authorization|cookie|api[_-]?key|code)"""
    r"""["']?\s*[:=]\s*)"""
    r"""((?:bearer|basic)\s+[^\s,;})\]'"]+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|[^\s,;})\]]+)"""
)


def is_sensitive(name: str) -> bool:
    """Whether a field, variable or argument of this name holds a secret that logs must never show."""
    normalized = name.replace("_", "").replace("-", "").lower()
    return normalized.endswith(_SENSITIVE_ENDINGS)


def redact(value: object) -> object:
    """`value` with every entry under a sensitive name, at any depth, replaced by REDACTED."""
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and is_sensitive(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def redact_text(text: str) -> str:
    """`text` with the value of every `sensitive-name: value` pair replaced by REDACTED."""
    return _SENSITIVE_PAIR.sub(lambda match: f"{match.group(1)}{REDACTED}", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for key, var in (
            ("requestId", request_id_var),
            ("operation", operation_var),
            ("userId", user_id_var),
        ):
            if (value := var.get()) is not None:
                entry[key] = value
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            redacted = redact(fields)
            assert isinstance(redacted, dict)
            entry.update(redacted)
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(get_settings().log_level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    access = logging.getLogger(_UVICORN_ACCESS_LOGGER)
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
