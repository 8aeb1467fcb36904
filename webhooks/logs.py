"""JSON structured logs: one object per line on stderr, extra fields included."""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any, TextIO

import orjson

# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
LEVELS = ("debug", "info", "warning", "error")
# `extra` key whose dict is merged into the line: lets fields use names LogRecord reserves
# (`name`, `msg`, ...), as a decision line's object name does.
FIELDS = "fields"


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call whose keys become top-level JSON fields, any name allowed."""
    return {FIELDS: values}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, msg, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line of a record."""
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key == FIELDS and isinstance(value, dict):
                out.update(value)
            elif key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode("utf-8")


def setup(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every `opgate.*` logger (and aiohttp's) to `stream` as JSON lines at `level`."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log duplicates the decision log line; keep it quiet below warning.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Fields the JSON lines never show, skipped per record (the logging HOWTO's "Optimization").
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller lookup: a stack walk per decision line
