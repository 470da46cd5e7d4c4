"""A source's timeout stops the source's work, not only the wait for it.

A source is made slow for real: its dataset `arsip` is a view that is expensive to count
(a billion generated rows). A request for its count times out after the source's 0.5 s;
within a second of that answer the statement no longer runs at the database, and the
database's CPU for it stops: SQLite's in the hub's own process, PostgreSQL's in the
statement's backend process, MariaDB's in the statement's server thread. The source then
answers its next call at once, through a pool of one connection. A file source, whose
data lives on its one in-memory SQLite connection, still has its data afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tests.support.databases import BACKENDS, ScratchDatabase
from tests.support.regency import PENERIMA, load, make_rows, start_hub

TIMEOUT = 0.5
COUNT = "{ dinsos { arsip { totalCount } } }"
NEXT = "{ dinsos { penerimaBansos(first: 3) { nodes { id program } } } }"
IDLE = 0.2  # seconds of CPU a stopped statement may show in a one-second window (noise)

SLOW_VIEW = {  # ~25 s (SQLite) to minutes of one core's work to count, and no disk
    "sqlite": "CREATE VIEW arsip AS WITH RECURSIVE n(i) AS"
    " (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) SELECT i AS id FROM n",
    "postgresql": "CREATE VIEW arsip AS SELECT g AS id FROM (SELECT generate_series(1::bigint, 10000000000) AS g) s",
    "mariadb": "CREATE VIEW arsip AS SELECT seq AS id FROM seq_1_to_1000000000 WHERE seq % 7 <> 0",
}

CATALOG = """
opd: {{id: dinsos, name: Dinas Sosial}}
sources:
  main: {{adapter: sql, url: "{url}", timeout: {timeout}, pool_size: 1, breaker_failures: 2}}
datasets:
  arsip:
    source: main
    key: id
    fields:
      id: {{type: integer, classification: public}}
  penerima_bansos:
    source: main
    key: id
    fields:
      id: {{type: integer, classification: internal}}
      program: {{type: string, classification: public}}
"""


def cpu_seconds(stat: Path) -> float | None:
    """User + system CPU of a process or thread from its /proc stat file; None once it is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_stat(tid: int) -> Path:
    """The stat file of a thread of some process (/proc/<tid>/status names the process)."""
    try:
        status = Path(f"/proc/{tid}/status").read_text()
    except FileNotFoundError:
        return Path(f"/proc/{tid}/stat")  # not here: cpu_seconds finds nothing
    pid = next(line.split()[1] for line in status.splitlines() if line.startswith("Tgid:"))
    return Path(f"/proc/{pid}/task/{tid}/stat")


class Statement:
    """The count statement at the database, watched over a connection of the test's own:
    where its CPU shows, and whether it still runs."""

    def __init__(self, kind: str, db: ScratchDatabase) -> None:
        self.kind = kind
        self.db = db
        self.stat: Path | None = None  # its process (PostgreSQL) or server thread (MariaDB)
        self.id: int | None = None  # its backend pid (PostgreSQL) or connection id (MariaDB)
        self._pg: asyncpg.Connection | None = None
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None

    async def open(self) -> None:
        if self.kind == "postgresql":
            self._pg = await asyncpg.connect(self.db.url.replace("postgresql+asyncpg", "postgresql"))
        elif self.kind == "mariadb":
            self._engine = create_async_engine(self.db.url, isolation_level="AUTOCOMMIT")
            self._conn = await self._engine.connect()

    async def running(self) -> list[tuple[int, int]]:
        """(id, process or thread id) of each count statement running on the database."""
        if self._pg is not None:
            sql = (
                "SELECT pid, pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active'"
                " AND query LIKE 'SELECT count(*)%' AND pid <> pg_backend_pid()"
            )
            return [(r[0], r[1]) for r in await self._pg.fetch(sql, self.db.name)]
        assert self._conn is not None
        sql = (
            "SELECT id, tid FROM information_schema.processlist WHERE db = :db"
            " AND command = 'Query' AND info LIKE 'SELECT count(*)%'"
        )
        return [(r[0], r[1]) for r in await self._conn.execute(sa.text(sql), {"db": self.db.name})]

    async def find(self, request: asyncio.Future[Any]) -> None:
        """Wait for the statement to start (SQLite: nothing to find; its CPU is this process's)."""
        if self.kind == "sqlite":
            return
        while not (found := await self.running()):
            assert not request.done(), "the request ended before its statement showed at the database"
            await asyncio.sleep(0.01)
        ((self.id, tid),) = found
        self.stat = Path(f"/proc/{tid}/stat") if self.kind == "postgresql" else thread_stat(tid)
        if cpu_seconds(self.stat) is None:
            pytest.skip(f"the {self.kind} server's processes are not visible in /proc here")

    def cpu(self) -> Callable[[], float]:
        """A reading of the CPU seconds the statement's work can show in."""
        if self.stat is None:
            return time.process_time  # SQLite works in this process's threads
        stat = self.stat
        return lambda: cpu_seconds(stat) or 0.0  # gone: a backend that ended

    async def stops(self, deadline: float) -> None:
        if self.kind == "sqlite":
            return
        while any(found_id == self.id for found_id, _ in await self.running()):
            assert time.monotonic() < deadline, f"the statement still runs at the database: {self.kind}"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Closes the watching connection. MariaDB runs on a statement nobody stopped, which
        holds its database up from being dropped: it is ended first (when the fix is missing)."""
        if self._pg is not None:
            await self._pg.close()
        if self._conn is not None:
            for found_id, _ in await self.running():
                await self._conn.execute(sa.text(f"KILL {int(found_id)}"))
            await self._conn.close()
        if self._engine is not None:
            await self._engine.dispose()


async def slow_source(kind: str, tmp: Path) -> ScratchDatabase:
    db = await ScratchDatabase(kind, tmp).create()
    await load(db.url, PENERIMA, make_rows(20)[1])
    engine = create_async_engine(db.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(SLOW_VIEW[kind]))
    finally:
        await engine.dispose()
    schema = tmp / "schema"
    schema.mkdir()
    (schema / "dinsos.yaml").write_text(CATALOG.format(url=db.url, timeout=TIMEOUT))
    return db


@pytest.mark.parametrize("kind", BACKENDS)
async def test_a_timed_out_statement_stops_at_the_source(kind: str, tmp_path: Path) -> None:
    db = await slow_source(kind, tmp_path)
    statement = Statement(kind, db)
    try:
        await statement.open()
        hub, client = await start_hub(tmp_path)
        try:
            started = time.monotonic()
            request = asyncio.ensure_future(client.post("/graphql", json={"query": COUNT}))
            await statement.find(request)
            body = (await request).json()
            answered = time.monotonic()
            assert body["data"]["dinsos"]["arsip"] is None
            assert [e["extensions"]["code"] for e in body["errors"]] == ["SOURCE_TIMEOUT"]
            assert answered - started < TIMEOUT + 1, answered - started
            source = hub.sources.by_id["dinsos.main"]
            assert source.breaker.failures == 1  # the timeout counts against the source

            await statement.stops(deadline=answered + 1)
            await asyncio.sleep(max(0.0, answered + 1 - time.monotonic()))
            read = statement.cpu()
            before, window = read(), time.monotonic()
            await asyncio.sleep(1)  # the window the stopped statement's CPU is measured over
            used, window = read() - before, time.monotonic() - window
            assert used < IDLE * window, (
                f"{kind}: {used:.2f} s of CPU in {window:.2f} s, a second after the timeout"
            )

            started = time.monotonic()
            data = (await client.post("/graphql", json={"query": NEXT})).json()["data"]
            assert time.monotonic() - started < 1
            assert data["dinsos"]["penerimaBansos"]["nodes"] == [
                {"id": r["id"], "program": r["program"]} for r in make_rows(20)[1][:3]
            ]
            assert source.breaker.failures == 0
        finally:
            await client.aclose()
            await hub.close()
    finally:
        await statement.close()
        await db.drop()


FILE_CATALOG = """
opd: {{id: dinsos, name: Dinas Sosial}}
sources:
  berkas: {{adapter: file, path: "{path}", timeout: {timeout}, breaker_failures: 1000}}
datasets:
  warga:
    source: berkas
    key: id
    fields:
      id: {{type: integer, classification: public}}
      catatan: {{type: string, classification: public}}
"""
# Three aliases of one count whose filter costs ~1 s of CPU over the file's 50,000 rows.
SLOW_FILTER = {"or": [{"catatan": {"like": f"%a%e%i%o%u%zq{i}"}} for i in range(100)]}
THREE_COUNTS = """query($w: DinsosWargaWhere) { dinsos {
  a: warga(where: $w) { totalCount } b: warga(where: $w) { totalCount } c: warga(where: $w) { totalCount } } }"""
TOTAL = "{ dinsos { warga { totalCount } } }"


async def test_a_file_source_keeps_its_data_after_a_timeout(tmp_path: Path) -> None:
    """A file source serves from one in-memory SQLite connection: its timed-out statements
    are interrupted and the connection, which holds the data, is kept."""
    rnd = random.Random(15)
    lines = ["id,catatan"] + [
        f"{i},{''.join(rnd.choices('abcdefghiklmnopqrstuy ', k=60))}" for i in range(50_000)
    ]
    (tmp_path / "warga.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "dinsos.yaml").write_text(
        FILE_CATALOG.format(path=tmp_path / "warga.csv", timeout=0.2)
    )
    hub, client = await start_hub(tmp_path, max_like_terms=300)  # past the default, to reach the timeout
    try:
        deadline = time.monotonic() + 10
        while (body := (await client.post("/graphql", json={"query": TOTAL})).json()).get("errors"):
            assert time.monotonic() < deadline, body  # loading the file takes longer than the timeout
            await asyncio.sleep(0.1)
        assert body["data"]["dinsos"]["warga"]["totalCount"] == 50_000, body

        started = time.monotonic()
        async with asyncio.timeout(10):  # without stopping, a call can wait for ever on a dropped connection
            r = await client.post("/graphql", json={"query": THREE_COUNTS, "variables": {"w": SLOW_FILTER}})
        answered = time.monotonic()
        assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["SOURCE_TIMEOUT"] * 3
        assert answered - started < 0.2 + 1, answered - started

        await asyncio.sleep(max(0.0, answered + 1 - time.monotonic()))
        before, window = time.process_time(), time.monotonic()
        await asyncio.sleep(1)  # the window the stopped statements' CPU is measured over
        used, window = time.process_time() - before, time.monotonic() - window
        assert used < IDLE * window, f"{used:.2f} s of CPU in {window:.2f} s, a second after the timeout"

        body = (await client.post("/graphql", json={"query": TOTAL})).json()
        assert body["data"]["dinsos"]["warga"]["totalCount"] == 50_000, body
    finally:
        await client.aclose()
        await hub.close()
