"""A yardstick for the audit's cost: the least a durable audit record could cost the
hub's request path on this machine, for `overhead.py --yardsticks` (never the hub's
store, which also keeps the indexed tables that `verify`, `tail` and the transparency
queries read).

What it does is what any design that answers only after the record is durable must do
at the least, done as cheaply as this repository knows how:

- batches exactly as the hub's SQLite appender does (this class is one: its
  `append`, its `COMMIT_GAP` and its settling are reused as they are);
- on the loop, once per batch: chain the entries with the hub's own chain functions
  and format them as JSON lines (instead of staging them in SQLite);
- on the writer thread: one `write` of the batch to a file opened with O_APPEND, one
  `fdatasync`, and one call into the loop that settles the batch's futures (instead
  of SQLite's COMMIT).

`sync=False` leaves out the `fdatasync` (not durable: a diagnostic of what the fsync
costs against the hand-over). A failed write fails the batch's waiters, as the hub's
appenders do.

`ProcJournal` does the same with a helper process instead of the thread: the loop
writes each batch to the helper's stdin and reads its answer from the helper's stdout
(no thread in the hub, so no GIL hand-over), the helper (`HELPER`, a few lines of
Python) appends, fdatasyncs and answers. It tells whether taking the durable write
out of the hub's process could pay on this machine.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sys

import orjson

from hub.audit.batch import Batch
from hub.audit.chain import GENESIS, Entry, fields_of, link, row_values
from hub.audit.sqlite import SqliteAppender
from hub.errors import AuditWriteFailed


class _Chained(SqliteAppender):
    """The hub's SQLite batching, with the chain kept in memory (one writer: the yardstick)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._seq, self._prev = 0, GENESIS

    async def record(self, entry: Entry) -> int:
        """`entry`'s sequence number once its batch is written (AuditLog.record's form)."""
        return await self.append(entry)

    def _next_batch(self, loop: asyncio.AbstractEventLoop) -> Batch:
        """The entries waiting, as SqliteAppender._write takes them (its batch starts now)."""
        self._started = loop.time()
        batch, self._pending = self._pending, []
        return batch

    def _chain(self, batch: Batch) -> tuple[list[int], bytes]:
        """The batch's sequence numbers and its records as JSON lines."""
        links = link(self._seq, self._prev, [e for e, _ in batch])
        self._seq, self._prev = links[-1].seq, links[-1].hash
        return [k.seq for k in links], b"".join(orjson.dumps(row_values(k)) + b"\n" for k in links)


class Journal(_Chained):
    def __init__(self, path: str, *, sync: bool = True) -> None:
        super().__init__(path)
        self.sync = sync
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lines: dict[int, bytes] = {}  # a staged batch's text, by its first sequence number

    def _write(self, loop: asyncio.AbstractEventLoop) -> None:  # on the loop
        batch = self._next_batch(loop)
        seqs, self._lines[seqs[0]] = self._chain(batch)
        self._hand_over((batch, seqs, loop))

    def _run(self) -> None:  # on the writer thread
        while (job := self._jobs.get()) is not None:
            batch, seqs, loop = job
            assert seqs is not None
            outcome: list[int] | Exception = seqs
            try:
                os.write(self._fd, self._lines.pop(seqs[0]))
                if self.sync:
                    os.fdatasync(self._fd)
            except OSError as e:
                outcome = e
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(self._settled, loop, batch, outcome)


# The helper: frames of `LENGTH\n` + LENGTH bytes on stdin; each appended to the file
# named by argv[1] and fdatasync'd, then answered with `ok\n` (or `error NAME\n`), then
# handed to `after` if a prelude defined one.
HELPER = r"""
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
inp, out = sys.stdin.buffer, sys.stdout.buffer
after = globals().get("after", lambda data: None)
while head := inp.readline():
    data = inp.read(int(head))
    try:
        os.write(fd, data)
        os.fdatasync(fd)
        out.write(b"ok\n")
    except OSError as e:
        out.write(b"error " + type(e).__name__.encode() + b"\n")
    out.flush()
    after(data)
"""


class ProcJournal(_Chained):
    """`Journal` with the write and fdatasync in a helper process (see the module)."""

    helper = HELPER

    def __init__(self, path: str) -> None:
        super().__init__(path)  # the helper opens the file
        self._sent: collections.deque[tuple[Batch, list[int]]] = collections.deque()
        self._proc: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Future[None] | None = None
        self._answering: asyncio.Task[None] | None = None  # referenced: the loop keeps tasks weakly

    async def record(self, entry: Entry) -> int:
        if self._proc is None:
            if self._starting is None:  # one helper, however many requests arrive first
                self._starting = asyncio.ensure_future(self._start())
            await asyncio.shield(self._starting)
        return await self.append(entry)

    async def _start(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", self.helper, *self._helper_args(), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._proc = proc
        self._answering = asyncio.get_running_loop().create_task(self._answers())

    def _helper_args(self) -> list[str]:
        return [self.path]

    def _frame(self, batch: Batch) -> tuple[list[int], bytes]:
        """The batch's sequence numbers (none if the helper numbers it) and what it is sent as."""
        return self._chain(batch)

    def _write(self, loop: asyncio.AbstractEventLoop) -> None:  # on the loop
        assert self._proc is not None and self._proc.stdin is not None
        batch = self._next_batch(loop)
        seqs, data = self._frame(batch)
        self._sent.append((batch, seqs))
        self._proc.stdin.write(b"%d\n%b" % (len(data), data))

    async def _answers(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        loop = asyncio.get_running_loop()
        while answer := await self._proc.stdout.readline():
            batch, seqs = self._sent.popleft()
            words = answer.split()
            if words[0] != b"ok":
                self._settled(loop, batch, AuditWriteFailed(answer.decode().strip()))
                continue
            if len(words) > 1:  # `ok FIRST`: the helper chained the batch
                seqs = list(range(int(words[1]), int(words[1]) + len(batch)))
            self._settled(loop, batch, seqs)
        for batch, _ in self._sent:  # the helper has gone: nothing more becomes durable
            self._settled(loop, batch, AuditWriteFailed("the journal helper exited"))


# The SQLite helper: frames of `LENGTH\n` + LENGTH bytes of JSON entries on stdin; each
# frame staged and committed into the SQLite store at argv[1] with the hub's own
# statements (hub/audit/sqlite.py's `_stage`, WAL, synchronous=FULL), answered `ok FIRST\n`
# with the batch's first sequence number.
SQLITE_HELPER = r"""
import datetime as dt, sqlite3, sys
import orjson
from hub.audit.chain import Entry
from hub.audit.sqlite import _stage
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
for pragma in ("busy_timeout=10000", "journal_mode=WAL", "synchronous=FULL"):
    conn.execute(f"PRAGMA {pragma}")
inp, out = sys.stdin.buffer, sys.stdout.buffer
while head := inp.readline():
    entries = [
        Entry(**(e | {"at": dt.datetime.fromisoformat(e["at"]), "pairs": tuple(e["pairs"]),
                      "datasets": tuple(e["datasets"])}))
        for e in orjson.loads(inp.read(int(head)))
    ]
    try:
        seqs = _stage(conn, entries)
        conn.execute("COMMIT")
        out.write(b"ok %d\n" % seqs[0])
    except sqlite3.Error as e:
        out.write(b"error " + type(e).__name__.encode() + b"\n")
    out.flush()
"""


# The journal-first helper: HELPER's durable append and answer, then the records go into
# the store's indexed tables at argv[2] (the hub's own statements) every INDEX_EVERY
# records, in one transaction with synchronous=NORMAL: the journal is what is durable.
INDEX_EVERY = 64
INDEXING_HELPER = (
    r"""
import sqlite3, sys
import orjson
from hub.audit.sqlite import _INSERT_ACCESS, _INSERT_LOG
every = int(sys.argv[3])
conn = sqlite3.connect(sys.argv[2], isolation_level=None, timeout=10)
for pragma in ("busy_timeout=10000", "journal_mode=WAL", "synchronous=NORMAL"):
    conn.execute(f"PRAGMA {pragma}")
rows = []
def index():
    log = [(r[0], r[1].replace("T", " ").split("+")[0], *r[2:]) for r in rows]
    access = [(r[0], d, d.split(".")[0]) for r in rows for d in orjson.loads(r[9])]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(_INSERT_LOG, log)
    conn.executemany(_INSERT_ACCESS, access)
    conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (rows[-1][0], rows[-1][-1]))
    conn.execute("COMMIT")
    rows.clear()
def after(data):
    rows.extend(orjson.loads(line) for line in data.splitlines())
    if len(rows) >= every:
        index()
"""
    + HELPER
    + """
if rows:
    index()
"""
)


class IndexingJournal(ProcJournal):
    """`ProcJournal` whose helper also fills the store's tables from the journal, in
    batches of INDEX_EVERY records after answering (the journal-first design's cost)."""

    helper = INDEXING_HELPER

    def __init__(self, path: str, store: str) -> None:
        super().__init__(path)
        self.store = store

    def _helper_args(self) -> list[str]:
        return [self.path, self.store, str(INDEX_EVERY)]


class SqliteProc(ProcJournal):
    """The hub's SQLite append (chain, inserts, durable COMMIT) done whole by a helper
    process, the loop only batching and sending the entries (a writer-process design)."""

    helper = SQLITE_HELPER

    def _frame(self, batch: Batch) -> tuple[list[int], bytes]:
        return [], orjson.dumps([fields_of(e) for e, _ in batch])  # the helper chains: `ok FIRST`


def lines(path: str) -> int:
    """Records in a journal file."""
    with open(path, "rb") as f:
        return sum(1 for _ in f)
