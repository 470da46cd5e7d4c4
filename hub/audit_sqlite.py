"""The audit append for a SQLite store: one thread hop per batch instead of one per
statement (aiosqlite runs every statement on its own thread). `BEGIN IMMEDIATE`
takes SQLite's write lock first, so processes sharing the file append in turn; WAL
with full sync makes the commit durable before any waiter is answered.

Rows are written in the formats SQLAlchemy reads back (datetimes as UTC
`YYYY-MM-DD HH:MM:SS.ffffff`), so `verify` and the transparency queries see them as
if SQLAlchemy had written them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

Chain = Callable[[int, str, list[Any]], tuple[list[dict[str, Any]], list[dict[str, Any]], str]]

_COLUMNS = ("seq", "at", "request_id", "subject", "client_id", "operation", "query_hash", "purpose",
            "pairs", "datasets", "rows", "records", "outcome", "prev_hash", "hash")  # fmt: skip
_INSERT_LOG = f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_INSERT_ACCESS = "INSERT INTO audit_access (seq, dataset, opd) VALUES (?, ?, ?)"


class SqliteAppender:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def _append(self, entries: list[Any], chain: Chain) -> list[int]:
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                seq, prev = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
                rows, access, last = chain(int(seq), str(prev), entries)
                conn.executemany(_INSERT_LOG, [tuple(_sqlite(r[c]) for c in _COLUMNS) for r in rows])
                conn.executemany(_INSERT_ACCESS, [(a["seq"], a["dataset"], a["opd"]) for a in access])
                conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (rows[-1]["seq"], last))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return [r["seq"] for r in rows]

    async def append(self, entries: list[Any], chain: Chain) -> list[int]:
        try:
            return await asyncio.to_thread(self._append, entries, chain)
        except sqlite3.Error:
            self.close()  # a fresh connection next time (the file may have moved or come back)
            raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _sqlite(value: Any) -> Any:
    if isinstance(value, dt.datetime):  # SQLAlchemy's SQLite text form, in UTC
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
