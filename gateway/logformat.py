"""One log format on stderr for every logger of the process: the gateway's, the access log and uvicorn's.

``logging.format: json`` writes one JSON object per line for everything (``time``, ``level``,
``logger``, ``message``, and ``exc`` with a traceback); an access log record becomes one such object with
the access fields at its top level, so a collector parses a single shape. ``text`` (the default) writes
``time level logger message`` lines, and the access log stays as it always was: its bare JSON line.

``log_config`` is a ``logging.config.dictConfig`` document: uvicorn takes it as ``log_config`` and applies
it in the parent and in each worker process, so uvicorn's own records ("Started server process", errors)
come out in the same format as ours.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Literal

LogFormat = Literal["json", "text"]
#: The attribute an access log record carries its fields in (see ``gateway.accesslog``).
ACCESS_FIELDS = "s3bridge_access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "s3bridge")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, ACCESS_FIELDS, None)
        stamp = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds")
        out: dict[str, Any] = {"time": stamp, "level": record.levelname.lower(), "logger": record.name}
        if isinstance(access, dict):
            out.update(access)
            out["time"] = stamp
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["exc"] = self.formatStack(record.stack_info)
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False, default=str)


def log_config(fmt: LogFormat, level: str) -> dict[str, Any]:
    """The dictConfig for the whole process: root and uvicorn's loggers to stderr in ``fmt``."""
    level = level.upper()
    main = {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    access = main if fmt == "json" else {"format": "%(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": main, "access": access},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"},
            # The access log's lines written in batches, not one write(2) each (gateway.logbuffer).
            "access": {
                "class": "gateway.logbuffer.DeferredFlushHandler",
                "formatter": "access",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            **{name: {"handlers": [], "level": level, "propagate": True} for name in _LOGGERS},
            "s3bridge.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
