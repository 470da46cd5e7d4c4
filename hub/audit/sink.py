"""Where audit entries go: one protocol, and the sink each kind of store gets.

A sink's `append` resolves to the entry's sequence number once the record is durable
(AuditWriteFailed when it cannot be), and entries appended while a commit runs are
committed together after it. `aclose` settles what was handed over, then disconnects.
A benchmark or a test that wants another store plugs in here (`AuditLog(engine, sink)`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.chain import Entry
from hub.audit.pg import PgAppender
from hub.audit.sa import SqlAlchemyAppender
from hub.audit.sqlite import SqliteAppender


class AuditSink(Protocol):
    def append(self, entry: Entry) -> Awaitable[int]: ...
    async def aclose(self) -> None: ...


def sink_for(engine: AsyncEngine) -> AuditSink:
    """A SQLite file's own appender, PostgreSQL's over asyncpg, else SQLAlchemy's."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return SqliteAppender(str(url.database))
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "asyncpg":
        return PgAppender(url.set(drivername="postgresql").render_as_string(hide_password=False))
    return SqlAlchemyAppender(engine)
