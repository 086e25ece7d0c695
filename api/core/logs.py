"""How every Trouw process logs: plain text lines for development, or one JSON object per line
(`TROUW_LOG_FORMAT=json`) for log collectors. Each line made while a request id is bound
(`loyalty.core.request_ids`) carries it: in JSON as `request_id`, in text at the end.

`trouw serve` hands `logging_config` to uvicorn (so its own lines come out the same way);
`trouw worker` and `trouw scheduler` apply it with `configure_logging`."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from api.settings import Settings
from loyalty.core.request_ids import current_request_id

# uvicorn's level below DEBUG.
_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}
# Libraries that log each outgoing request at INFO (a webhook attempt is logged by us).
_QUIET = ("httpx", "httpcore", "hpack")


class WithRequestId(logging.Filter):
    """Adds the bound request id to each record that has none of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = current_request_id()
            if request_id is not None:
                record.request_id = request_id
        return True


class TextFormatter(logging.Formatter):
    """`time level logger message`, then `request_id=…` when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


def json_formatter() -> logging.Formatter:
    """`{"time", "level", "logger", "message", "request_id", …the record's extra fields}`."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        # uvicorn's copy of the message with terminal colours.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary for the settings' format and level."""
    level = _LEVELS[settings.log_level]
    formatter: dict[str, Any] = (
        {"()": "api.core.logs.json_formatter"}
        if settings.log_format == "json"
        else {"()": "api.core.logs.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "api.core.logs.WithRequestId"}},
        "formatters": {"trouw": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "trouw",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "trouw": {"level": level},
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level, "handlers": [], "propagate": True},
            **{name: {"level": logging.WARNING} for name in _QUIET},
        },
        "root": {"level": logging.WARNING, "handlers": ["stderr"]},
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
