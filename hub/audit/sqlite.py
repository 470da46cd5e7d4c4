"""The audit append for a SQLite store: statements on the event loop, the commit on a
thread of its own.

A batch is every entry handed over while the previous batch was committing (group
commit); a batch starts no sooner than `COMMIT_GAP` after the one before. The loop
thread takes SQLite's write lock without waiting (`BEGIN IMMEDIATE` with no busy
timeout), chains the batch and inserts it: microseconds of work that
would cost more as a hand-over to a thread, which must win the GIL back after every
statement. Only `COMMIT`, which waits for the disk (WAL, full sync: durable before any
waiter is answered), runs on the writer thread; the thread then settles the batch's
futures with one call into the loop.

When the write lock is taken (another process or connection appending) or there is no
connection yet, the whole transaction goes to the writer thread, which may wait up to
`LOCK_WAIT_MS` for the lock: the loop never waits on a lock or a disk.

Rows are written in the formats SQLAlchemy reads back (datetimes as UTC
`YYYY-MM-DD HH:MM:SS.ffffff`), so `verify` and the transparency queries see them as
if SQLAlchemy had written them.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from typing import Any

from hub.audit.batch import Batch, Outcome, settle
from hub.audit.chain import COLUMNS, Entry, Link, accesses, link, row_values

# A batch for the writer thread: its sequence numbers if staged (only COMMIT is left),
# None if the whole transaction is to be written there.
Job = tuple[Batch, list[int] | None, asyncio.AbstractEventLoop]

_INSERT_LOG = f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_INSERT_ACCESS = "INSERT INTO audit_access (seq, dataset, opd) VALUES (?, ?, ?)"
LOCK_WAIT_MS = 10_000
# A batch starts at least this long (s) after the previous one started, so that under
# load one commit (and its fsync, which costs a virtual machine CPU well beyond the
# writer's own) serves several requests, while an idle hub still commits at once. The
# gap is added to a request's latency: keep it well under a commit's own time.
COMMIT_GAP = 0.001


class SqliteAppender:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None  # used by one thread at a time
        self._pending: Batch = []
        self._writing = False  # a batch is waiting for its start, or between BEGIN and its settling
        self._started = float("-inf")  # loop time the last batch started
        self._idle = asyncio.Event()
        self._idle.set()
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def append(self, entry: Entry) -> asyncio.Future[int]:
        """A future for `entry`'s sequence number, set once the entry is durable."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        self._pending.append((entry, done))
        if not self._writing:
            self._writing = True
            self._idle.clear()
            wait = self._started + COMMIT_GAP - loop.time()
            if wait > 0:
                loop.call_later(wait, self._write, loop)  # entries until then join the batch
            else:
                loop.call_soon(self._write, loop)  # after this loop pass: its entries join the batch
        return done

    # --- on the loop thread -------------------------------------------------------------

    def _write(self, loop: asyncio.AbstractEventLoop) -> None:
        self._started = loop.time()
        batch, self._pending = self._pending, []
        if self._conn is None:
            self._hand_over((batch, None, loop))
            return
        try:
            seqs = _stage(self._conn, [e for e, _ in batch])
        except sqlite3.OperationalError as e:
            if getattr(e, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
                self._close_conn()
                self._settled(loop, batch, e)
                return
            self._hand_over((batch, None, loop))  # locked: the thread waits for it
            return
        except Exception as e:
            self._close_conn()
            self._settled(loop, batch, e)
            return
        self._hand_over((batch, seqs, loop))

    def _hand_over(self, job: Job) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def _settled(self, loop: asyncio.AbstractEventLoop, batch: Batch, outcome: Outcome) -> None:
        settle(batch, outcome)
        if self._pending:
            self._write(loop)
        else:
            self._writing = False
            self._idle.set()

    # --- on the writer thread -----------------------------------------------------------

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            batch, seqs, loop = job
            try:
                outcome: Outcome = (
                    self._commit(seqs) if seqs is not None else self._whole([e for e, _ in batch])
                )
            except Exception as e:
                self._close_conn()  # a fresh connection next time (the file may have moved or come back)
                outcome = e
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(self._settled, loop, batch, outcome)

    def _commit(self, seqs: list[int]) -> list[int]:
        assert self._conn is not None
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        return seqs

    def _whole(self, entries: list[Entry]) -> list[int]:
        conn = self._connect()
        conn.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        try:
            seqs = _stage(conn, entries)
        finally:
            conn.execute("PRAGMA busy_timeout=0")
        return self._commit(seqs)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
            for pragma in (f"busy_timeout={LOCK_WAIT_MS}", "journal_mode=WAL", "synchronous=FULL"):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def _close_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    # --- stopping -----------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until every entry handed over so far is settled (on the appending loop)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Settle what was handed over, stop the writer thread and disconnect."""
        await self.drain()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Stop the writer thread and disconnect (after `drain`)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._jobs.put(None)
            thread.join(timeout=30)
        self._thread = None
        self._close_conn()


def _stage(conn: sqlite3.Connection, entries: list[Entry]) -> list[int]:
    """Take the write lock and write `entries` after the head, uncommitted; their
    sequence numbers. Rolled back on any failure."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        seq, prev = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        links = link(int(seq), str(prev), entries)
        conn.executemany(_INSERT_LOG, [_log_row(k) for k in links])
        conn.executemany(_INSERT_ACCESS, accesses(links))
        conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (links[-1].seq, links[-1].hash))
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return [k.seq for k in links]


def _log_row(k: Link) -> tuple[Any, ...]:
    seq, at, *rest = row_values(k)
    return (seq, at.strftime("%Y-%m-%d %H:%M:%S.%f"), *rest)  # `at` in SQLAlchemy's SQLite text form
