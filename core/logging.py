"""JSON-lines logging with the request id, operation name and user id of the current request."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from core.settings import get_settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
operation_var: ContextVar[str | None] = ContextVar("operation_name", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (
            ("requestId", request_id_var),
            ("operation", operation_var),
            ("userId", user_id_var),
        ):
            if (value := var.get()) is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(get_settings().log_level)
