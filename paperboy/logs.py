"""One logging setup for every process: the CLI, the web process, the workers and the clock.

Each line says when (UTC, to the millisecond), how bad, which logger and what:
`2025-06-04T06:00:01.123Z INFO paperboy.pipeline: day 2025-06-04: scoring 49 papers with local`.
LOG_FORMAT=json writes one JSON object a line instead, for log collectors. Entry points install
it: the CLI with `configure`, rq (`-c workers.rqconfig`) and gunicorn (`bot/gunicorn_conf.py`)
through `dict_config`, which the standard library's `logging.config.dictConfig` applies.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]

QUIET = (
    "httpx",
    "httpx2",
    "httpcore",
    "urllib3",
    "anthropic",
    "slack_sdk",
    "slack_bolt",
    "asyncio",
)
"""Libraries whose INFO lines (each HTTP request, each retry) would drown the day's story."""

CLEAR_LINE = "\r\x1b[2K"
"""Back to the start of a terminal's line, erasing it."""

TERMINAL = threading.RLock()
"""Held while a line goes to standard error, by the log handler and by the progress meter alike:
email goes out from several threads, and a meter redrawn between a log line's erase and its text
would glue the two together."""

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _utc(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`time level logger: message`, then the traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the traceback as `exception`, and
    whatever a caller passed in `extra` (rq passes the job's id and queue)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(fmt: LogFormat = "text") -> logging.Formatter:
    """The formatter LOG_FORMAT names (also the factory `dict_config` points dictConfig at)."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


class Stderr(logging.StreamHandler):
    """A handler writing to whatever `sys.stderr` is at the time of each line (so a process or
    a test that swaps it still gets the lines)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        # On a terminal, a progress line may be drawn (`paperboy.progress.Meter`): the log line
        # takes its place, and the meter draws itself again below.
        with TERMINAL:
            if self.stream.isatty():
                self.stream.write(CLEAR_LINE)
            super().emit(record)


def dict_config(fmt: LogFormat = "text", level: str = "INFO") -> dict[str, Any]:
    """The setup as a `logging.config.dictConfig` dictionary: every logger (rq's and gunicorn's
    too) through one handler on the root, on standard error."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"paperboy": {"()": "paperboy.logs.formatter", "fmt": fmt}},
        "handlers": {"stderr": {"class": "paperboy.logs.Stderr", "formatter": "paperboy"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # rq and gunicorn give these handlers of their own; none, and they reach the root's
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("rq.worker", "rq.job", "rq.cron", "rq.scheduler", "gunicorn.error")
            },
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }


def configure(fmt: LogFormat = "text", level: str | int = "INFO") -> None:
    """Install the setup on the root logger of this process (the CLI's entry point calls it).

    Handlers someone else added stay (a test's capture, say); calling it again replaces only
    the one it installed before.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, Stderr):
            root.removeHandler(handler)
    handler = Stderr()
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def silenced(names: tuple[str, ...] = QUIET) -> Iterator[None]:
    """The libraries `names` say nothing while the block runs, errors included (`paperboy
    doctor` reports their failures itself, in its own words)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
