"""Keep values out of logs, whatever level an operator turns on.

At DEBUG, SQLAlchemy logs every result row and the database drivers log statements
with their parameters: NIKs and names. Those records are dropped at the source
loggers; statements themselves (INFO, parameters hidden by `hide_parameters`) stay.
"""

from __future__ import annotations

import logging

VALUE_LOGGERS = (
    "sqlalchemy.engine",
    "sqlalchemy.engine.Engine",
    "aiosqlite",
    "asyncpg",
    "asyncmy",
    "httpx",
    "httpcore",
)


class _NoDebugValues(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def keep_values_out() -> None:
    """Install the filter once on every logger that could carry values (idempotent)."""
    for name in VALUE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoDebugValues) for f in logger.filters):
            logger.addFilter(_NoDebugValues())


QUIET = ("casbin", "alembic", "aiosqlite")  # rule dumps, migrations, driver chatter


def configure(level: str) -> None:
    """The log format and level of a serving process (`hub serve`, each of its workers)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


keep_values_out()
