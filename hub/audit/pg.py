"""The audit append for a PostgreSQL store: group commit on one asyncpg connection.

Every entry handed over while a batch is being written joins the next batch. A batch
is one transaction of two statements: lock the head row and read it (writers in every
hub process sharing the store queue on that row lock, so they append in turn), then
insert the chained records, their transparency index rows and the new head in one
statement (two JSON texts unnested in data-modifying CTEs). Four round trips per batch,
BEGIN and COMMIT included; the answer waits for COMMIT, so a record is durable before
its data leaves the hub.

The connection is the appender's own, not one of SQLAlchemy's pool: the append is on
every audited request's path, and SQLAlchemy's execution layer would cost more CPU than
the four round trips themselves. After any failure
it is dropped and the next batch connects afresh, so service resumes by itself when
the store returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import orjson

from hub.audit.batch import Batch, settle
from hub.audit.chain import COLUMNS, Entry, Link, accesses, link, row_values

if TYPE_CHECKING:
    import asyncpg

CONNECT_TIMEOUT = 5.0  # seconds to connect
COMMAND_TIMEOUT = 10.0  # seconds for one statement (a store that hangs fails closed)

_LOCK_HEAD = "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash"
_NOT_TEXT = {"seq": "bigint", "at": "timestamptz", "rows": "int", "records": "int"}  # audit_log's types
_LOG_TYPES = ", ".join(f"{c} {_NOT_TEXT.get(c, 'text')}" for c in COLUMNS)
_WRITE = f"""
WITH log AS (
    INSERT INTO audit_log ({", ".join(COLUMNS)})
    SELECT {", ".join(COLUMNS)} FROM jsonb_to_recordset($1::text::jsonb) AS r({_LOG_TYPES})
), access AS (
    INSERT INTO audit_access (seq, dataset, opd)
    SELECT seq, dataset, opd FROM jsonb_to_recordset($2::text::jsonb) AS a(seq bigint, dataset text, opd text)
)
UPDATE audit_head SET seq = $3, hash = $4 WHERE id = 1
"""


class PgAppender:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._pending: Batch = []
        self._writing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only weak references

    def append(self, entry: Entry) -> asyncio.Future[int]:
        """A future for `entry`'s sequence number, set once the entry is durable."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, done))
        if not self._writing:
            self._writing = True
            self._idle.clear()
            self._task = asyncio.create_task(self._drain(), name="audit-writer")
        return done

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                outcome: list[int] | Exception
                try:
                    outcome = await self._write([e for e, _ in batch])
                except Exception as e:
                    self._drop()
                    outcome = e
                settle(batch, outcome)
        finally:
            self._writing = False
            self._idle.set()

    async def _write(self, entries: list[Entry]) -> list[int]:
        conn = await self._connect()
        async with conn.transaction():
            head = await conn.fetchrow(_LOCK_HEAD)
            assert head is not None, "the store has no audit head row (run `hub migrate`)"
            links = link(int(head["seq"]), str(head["hash"]), entries)
            await conn.execute(_WRITE, *_rows(links), links[-1].seq, links[-1].hash)
        return [k.seq for k in links]

    async def _connect(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            import asyncpg  # imported when a PostgreSQL store is used

            self._conn = await asyncpg.connect(
                self.dsn, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
            )
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def aclose(self) -> None:
        """Wait for the entries handed over so far, then disconnect."""
        await self._idle.wait()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT)


def _rows(links: list[Link]) -> tuple[str, str]:
    """The batch's audit_log and audit_access rows as two JSON texts: orjson writes them
    in microseconds, where asyncpg checked every element of 18 arrays in Python."""
    log_rows = [dict(zip(COLUMNS, row_values(k), strict=True)) for k in links]
    access = [{"seq": seq, "dataset": d, "opd": opd} for seq, d, opd in accesses(links)]
    return orjson.dumps(log_rows).decode(), orjson.dumps(access).decode()
