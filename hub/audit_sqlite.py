"""The audit append for a SQLite store, on a writer thread of its own.

Requests hand their entries to the thread through a plain queue; the thread takes
every entry waiting, commits them in one transaction and settles all their futures
with one call into the event loop (group commit without an asyncio task, executor
or per-statement thread hop in between). `BEGIN IMMEDIATE` takes SQLite's write lock
first, so processes sharing the file append in turn; WAL with full sync makes the
commit durable before any waiter is answered.

Rows are written in the formats SQLAlchemy reads back (datetimes as UTC
`YYYY-MM-DD HH:MM:SS.ffffff`), so `verify` and the transparency queries see them as
if SQLAlchemy had written them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hub.audit")

Chain = Callable[[int, str, list[Any]], tuple[list[dict[str, Any]], list[dict[str, Any]], str]]

_COLUMNS = ("seq", "at", "request_id", "subject", "client_id", "operation", "query_hash", "purpose",
            "pairs", "datasets", "rows", "records", "outcome", "prev_hash", "hash")  # fmt: skip
_INSERT_LOG = f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_INSERT_ACCESS = "INSERT INTO audit_access (seq, dataset, opd) VALUES (?, ?, ?)"
BATCH = 256
Waiter = tuple[Any, "asyncio.Future[int]", asyncio.AbstractEventLoop]


class AuditWriteFailed(Exception):
    """The record could not be committed."""


class SqliteAppender:
    def __init__(self, path: str, chain: Chain) -> None:
        self.path = path
        self.chain = chain
        self._conn: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[Waiter | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def append(self, entry: Any) -> asyncio.Future[int]:
        """A future for `entry`'s sequence number, set once the entry is durable."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        self._queue.put((entry, done, loop))
        if self._thread is None or not self._thread.is_alive():
            with self._start:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                    self._thread.start()
        return done

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            with contextlib.suppress(queue.Empty):
                while len(batch) < BATCH:
                    item = self._queue.get_nowait()
                    if item is None:
                        self._queue.put(None)  # stop after this batch
                        break
                    batch.append(item)
            try:
                outcome: list[int] | Exception = self._append([e for e, _, _ in batch])
            except Exception as e:
                log.error("audit store unavailable (%s); %d request(s) refused", type(e).__name__, len(batch))
                self._close_conn()  # a fresh connection next time (the file may have moved or come back)
                outcome = AuditWriteFailed(type(e).__name__)
            loops: dict[asyncio.AbstractEventLoop, list[tuple[int, asyncio.Future[int]]]] = {}
            for i, (_, done, loop) in enumerate(batch):
                loops.setdefault(loop, []).append((i, done))
            for loop, waiters in loops.items():
                with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                    loop.call_soon_threadsafe(_settle, waiters, outcome)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def _append(self, entries: list[Any]) -> list[int]:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            seq, prev = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            rows, access, last = self.chain(int(seq), str(prev), entries)
            conn.executemany(_INSERT_LOG, [tuple(_sqlite(r[c]) for c in _COLUMNS) for r in rows])
            conn.executemany(_INSERT_ACCESS, [(a["seq"], a["dataset"], a["opd"]) for a in access])
            conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (rows[-1]["seq"], last))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return [r["seq"] for r in rows]

    def _close_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Stop the thread after the entries already handed over, then disconnect."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=30)
        self._thread = None
        self._close_conn()


def _settle(waiters: list[tuple[int, asyncio.Future[int]]], outcome: list[int] | Exception) -> None:
    for i, done in waiters:
        if done.done():
            continue
        if isinstance(outcome, Exception):
            done.set_exception(AuditWriteFailed(str(outcome)))
        else:
            done.set_result(outcome[i])


def _sqlite(value: Any) -> Any:
    if isinstance(value, dt.datetime):  # SQLAlchemy's SQLite text form, in UTC
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
