"""Stopping the statement of a call the hub gave up on (the source's timeout passed).

The hub cancels the task that awaits a source's answer (hub/sources.py); that alone does
not stop the database, which would go on working for nobody. Each backend is stopped in
its own way:

- PostgreSQL (adapters/pg_pool.py): asyncpg sends the server a cancel request over a
  new connection when the task awaiting a query is cancelled, and the pool retires the
  connection once the server has acknowledged it. Nothing to add here.
- SQLite: the statement runs in aiosqlite's worker thread. `sqlite3.Connection.interrupt()`
  (safe from any thread) stops it; it is repeated until the thread is free, because an
  interrupt that comes before the statement starts is lost. The connection is then as
  good as before (autocommit, nothing open) and is kept. A file source keeps its data on
  one in-memory connection that every call shares: dropping it would drop the data, and
  the calls waiting on it would wait for ever. On such a shared connection an interrupt
  also stops a statement another call runs at that moment (its caller gets
  SOURCE_UNAVAILABLE).
- MariaDB/MySQL: the server runs a statement to its end even when the client goes away.
  `KILL <connection id>`, sent over a connection of its own, stops it. The whole
  connection goes, not only its statement (`KILL QUERY`): SQLAlchemy drops a cancelled
  connection anyway, and a killed connection stays killed, where a `KILL QUERY` that
  arrives before the statement does is lost.

For SQLite and MariaDB/MySQL this is a `handle_error` listener on the source's engine:
SQLAlchemy calls it when a cancellation interrupts a statement, before it decides what
becomes of the connection. The statement is stopped there, within the cancelled call,
so the call's pool place comes free only once its work has stopped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import AdaptedConnection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

STOP_WAIT = 2.0  # seconds spent stopping a statement before leaving it be
INTERRUPT_EVERY = 0.05  # seconds between SQLite interrupts until its thread is free

log = logging.getLogger("adapters.sql")


class Stopper:
    """Stops the statements of one source's engine whose calls are cancelled."""

    def __init__(self, name: str, engine: AsyncEngine) -> None:
        self.name = name
        self.url = engine.url
        self._killer: AsyncEngine | None = None  # MariaDB/MySQL: opened at the first kill
        backend = engine.url.get_backend_name()
        self._sqlite = backend == "sqlite"
        if backend in ("sqlite", "mysql", "mariadb"):
            sa.event.listen(engine.sync_engine, "handle_error", self._on_error)

    def _on_error(self, ctx: ExceptionContext) -> None:
        if not isinstance(ctx.original_exception, asyncio.CancelledError):
            return
        conn = ctx.connection
        if conn is None or conn.invalidated:
            return
        adapted = conn.connection.dbapi_connection
        if not isinstance(adapted, AdaptedConnection):
            return
        try:
            adapted.run_async(self._stop)
        except Exception as e:  # the statement may run on; SQLAlchemy drops the connection
            log.warning("source %s: could not stop a cancelled statement: %s", self.name, type(e).__name__)
            return
        if self._sqlite:
            ctx.is_disconnect = False  # stopped and its thread free: keep the connection

    async def _stop(self, driver: Any) -> None:
        async with asyncio.timeout(STOP_WAIT):
            if self._sqlite:
                await _interrupt(driver)
            else:
                await self._kill(int(driver.thread_id()))

    async def _kill(self, connection_id: int) -> None:
        if self._killer is None:
            self._killer = create_async_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        async with self._killer.connect() as conn:
            await conn.execute(sa.text(f"KILL {connection_id}"))

    async def close(self) -> None:
        killer, self._killer = self._killer, None
        if killer is not None:
            await killer.dispose()


async def _interrupt(driver: Any) -> None:
    """Interrupt aiosqlite's connection until its thread is free: calls to it run in turn,
    so a rollback (nothing to roll back: sources run in autocommit) returns once the
    statement has stopped."""
    free = asyncio.ensure_future(driver.rollback())
    try:
        while True:
            await driver.interrupt()
            done, _ = await asyncio.wait({free}, timeout=INTERRUPT_EVERY)
            if done:
                break
    finally:
        if not free.done():
            free.cancel()
    if not free.cancelled():
        free.exception()  # a rollback that failed still means the thread is free
