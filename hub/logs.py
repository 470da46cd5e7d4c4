"""How a serving process logs (`hub serve`, each of its workers), and keeping values out.

`HUB_LOG_FORMAT=json` (the default) writes every record of the process, the hub's own,
uvicorn's and Python's warnings alike, as one JSON object per line on stderr: `time`
(UTC), `level`, `logger`, `message`, then the record's structured fields, if any (the
access records of hub/access.py carry theirs):

    {"time": "2026-05-04T08:12:09.331Z", "level": "WARNING", "logger": "hub.sources",
     "message": "source dukcapil.main failed (timeout; breaker closed): timed out after 5.0s"}

`HUB_LOG_FORMAT=text` writes `time LEVEL logger: message key=value …` for a terminal.

At DEBUG, SQLAlchemy logs every result row and the database drivers log statements
with their parameters: NIKs and names. Those records are dropped at the source
loggers; statements themselves (INFO, parameters hidden by `hide_parameters`) stay.
httpx logs every request's URL at INFO, a REST source's filter values in its query
string: its records at INFO and under are dropped too.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

VALUE_LOGGERS = (
    "sqlalchemy.engine",
    "sqlalchemy.engine.Engine",
    "aiosqlite",
    "asyncpg",
    "asyncmy",
)
# at INFO they log each request's URL, whose query string carries a REST source's filter values
URL_LOGGERS = ("httpx", "httpcore")
FORMATS = ("json", "text")


class _NoValues(logging.Filter):
    """Drops a logger's records at `below` and under."""

    def __init__(self, below: int) -> None:
        super().__init__()
        self.below = below

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > self.below


def keep_values_out() -> None:
    """Install the filter once on every logger that could carry values (idempotent)."""
    for names, below in ((VALUE_LOGGERS, logging.DEBUG), (URL_LOGGERS, logging.INFO)):
        for name in names:
            logger = logging.getLogger(name)
            if not any(isinstance(f, _NoValues) for f in logger.filters):
                logger.addFilter(_NoValues(below))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is the `exc` field)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""  # of `_second`: formatted once a second, not once a record

    def utc(self, created: float) -> str:
        """`2026-05-04T08:12:09.331Z`."""
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value …`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        fields = getattr(record, "fields", None)
        if not fields:
            return text
        return text + "".join(f" {k}={'-' if v is None else v}" for k, v in fields.items())


QUIET = ("casbin", "alembic", "aiosqlite")  # rule dumps, migrations, driver chatter


def configure(level: str, fmt: str = "json") -> None:
    """The log format and level of a serving process: one handler on stderr, which
    uvicorn's loggers and Python's warnings reach too (serve uvicorn with
    `log_config=None` so that it installs none of its own)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def announce(message: str, level: int = logging.INFO, **fields: Any) -> None:
    """A start-up record written whatever HUB_LOG_LEVEL says, as `hub serve` prints its
    start-up lines in a terminal (where it serves: the line an operator, and a script
    waiting for the hub, look for)."""
    name = logging.getLevelName(level)
    record = logging.makeLogRecord(
        {"name": "hub.serve", "levelno": level, "levelname": name, "msg": message, "fields": fields}
    )
    for handler in logging.getLogger().handlers:
        handler.handle(record)


keep_values_out()
