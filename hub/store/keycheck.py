"""The per-request key check, by the cheapest route to the store.

Every request looks its key up in the store (a revoked key stops working at once, in
every process), so the lookup is on every request's path and must cost no more than
one indexed read; SQLAlchemy's async layer would cost more than the read itself:

- SQLite file: read on the event loop's own thread with the standard library
  (WAL readers never wait for the audit writer; no thread hop);
- PostgreSQL (asyncpg): one prepared statement on a small pool of its own;
- anything else: SQLAlchemy, as before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.base import SourceError
from adapters.sql_pg import PgRunner
from hub.errors import StoreUnavailable
from hub.store.db import Client

_TABLE: sa.Table = Client.__table__  # type: ignore[assignment]
_COLUMNS = (
    _TABLE.c.subject, _TABLE.c.key_hash, _TABLE.c.expires_at, _TABLE.c.revoked_at, _TABLE.c.match_quota
)  # fmt: skip
_SQLITE = "SELECT subject, key_hash, expires_at, revoked_at, match_quota FROM clients WHERE id = ?"
TIMEOUT = 5.0  # seconds a store may take to answer before the request is refused


class KeyStore:
    """`row(client_id)`: (subject, key_hash, expires_at, revoked_at, match_quota) or None."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        url = engine.url
        backend, database = url.get_backend_name(), url.database
        self._path = database if backend == "sqlite" and database not in (None, "", ":memory:") else None
        self._sqlite: sqlite3.Connection | None = None
        self._pg = (
            PgRunner("hub store", url, engine.dialect, pool_size=4)
            if backend == "postgresql" and url.get_driver_name() == "asyncpg"
            else None
        )

    async def row(self, client_id: str) -> tuple[Any, ...] | None:
        try:
            async with asyncio.timeout(TIMEOUT):
                return await self._row(client_id)
        except (sqlite3.Error, SQLAlchemyError, SourceError, OSError, TimeoutError) as e:
            self._forget()
            raise StoreUnavailable(type(e).__name__) from None

    async def _row(self, client_id: str) -> tuple[Any, ...] | None:
        if self._path is not None:
            found = self._connect().execute(_SQLITE, (client_id,)).fetchone()
            return None if found is None else (*found[:2], _parse(found[2]), *found[3:])
        if self._pg is not None:
            by_id = lambda bind: sa.select(*_COLUMNS).where(_TABLE.c.id == bind(client_id, sa.String()))  # noqa: E731
            rows = await self._pg.rows("key", by_id, [client_id])
            return tuple(rows[0]) if rows else None
        async with self.engine.connect() as conn:
            got = (await conn.execute(sa.select(*_COLUMNS).where(_TABLE.c.id == client_id))).first()
        return None if got is None else tuple(got)

    def _connect(self) -> sqlite3.Connection:
        if self._sqlite is None:
            # reads only, but opened read-write: a read-only connection cannot create WAL files
            conn = sqlite3.connect(str(self._path), check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=2000")
            self._sqlite = conn
        return self._sqlite

    def _forget(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    async def close(self) -> None:
        self._forget()
        if self._pg is not None:
            await self._pg.close()


def _parse(value: str | None) -> dt.datetime | None:
    """SQLAlchemy's SQLite text form of a datetime (`YYYY-MM-DD HH:MM:SS.ffffff`)."""
    return None if value is None else dt.datetime.fromisoformat(value)
