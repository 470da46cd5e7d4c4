"""Downloads stream (hub/http/downloads.py), measured on a served hub (`hub serve`) over a
PostgreSQL table of 1,000,000 rows: the whole table as CSV with the server's memory
growing less than 50 MB, and a source stopped mid-stream (its database dropped) giving
a file that ends with the error row instead of stopping short."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio

from tests.support.catalogs import opd_file, sql_source, write_opd
from tests.support.databases import ScratchDatabase
from tests.support.hubcli import Running, hub_env, running_hub
from tests.support.regency import write_policies

ROWS = 1_000_000
OPD = {"id": "statistik", "name": "Badan Pusat Statistik (uji)"}
TABLE = {
    "title": "Rows for downloads",
    "source": "main",
    "table": "baris",
    "key": "id",
    "fields": {
        "id": {"type": "integer", "classification": "public"},
        "kecamatan": {"type": "string", "classification": "public"},
        "nilai": {"type": "integer", "classification": "public"},
    },
}
CREATE = f"""
CREATE TABLE baris AS
SELECT i AS id, 'Kecamatan ' || (i % 12) AS kecamatan, (i::bigint * 7919) % 100000 AS nilai
FROM generate_series(1, {ROWS}) AS i;
ALTER TABLE baris ADD PRIMARY KEY (id);
"""


@pytest_asyncio.fixture(scope="module")
async def table(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[ScratchDatabase, Path]]:
    tmp = tmp_path_factory.mktemp("stream")
    db = await ScratchDatabase("postgresql", tmp).create()
    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database=db.name)
    try:
        await conn.execute(CREATE)
    finally:
        await conn.close()
    write_opd(tmp / "schema", opd_file(OPD, {"main": sql_source(db.url, timeout=30)}, {"baris": TABLE}))
    write_policies(tmp / "policies", "p, public, statistik.baris.*, read, allow\n")
    yield db, tmp
    await db.drop()


@pytest.fixture
def served(table: tuple[ScratchDatabase, Path], tmp_path: Path) -> Iterator[Running]:
    _, tmp = table
    env = hub_env(
        HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        HUB_DOWNLOAD_PAGE_ROWS="5000",
        HUB_LOG_LEVEL="WARNING",
    )
    args = ("serve", "--schema", str(tmp / "schema"), "--policies", str(tmp / "policies"), "--port", "0")
    with running_hub(*args, cwd=tmp_path, env=env, log=tmp_path / "serve.log") as run:
        yield run


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_a_million_rows_stream_in_constant_memory(served: Running) -> None:
    url = f"{served.base}/public/datasets/statistik/baris.csv"
    async with httpx.AsyncClient(timeout=120) as client:
        # a first, smaller download warms the process (imports, pools, compiled statements)
        warm = await client.get(url, params={"id__lte": "20000"})
        assert warm.status_code == 200 and warm.text.count("\n") == 20_001
        before = rss_mb(served.process.pid)
        peak, rows, last = before, -1, ""
        async with client.stream("GET", url) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                rows += 1
                last = line
                if rows % 100_000 == 0:
                    peak = max(peak, rss_mb(served.process.pid))
        peak = max(peak, rss_mb(served.process.pid))
    assert rows == ROWS and last == f"{ROWS},Kecamatan {ROWS % 12},{ROWS * 7919 % 100000}"
    assert peak - before < 50, f"RSS grew {peak - before:.1f} MB ({before:.1f} -> {peak:.1f})"


async def test_a_source_stopped_mid_stream_ends_the_file_with_the_error(
    served: Running, table: tuple[ScratchDatabase, Path]
) -> None:
    db, _ = table
    url = f"{served.base}/public/datasets/statistik/baris.csv"
    text = io.StringIO()
    async with httpx.AsyncClient(timeout=120) as client, client.stream("GET", url) as r:
        assert r.status_code == 200
        stopped = False
        async for chunk in r.aiter_text():
            text.write(chunk)
            if not stopped and text.tell() > 200_000:  # some pages in: the source goes away
                await db.drop()
                stopped = True
    lines = list(csv.reader(io.StringIO(text.getvalue())))
    assert lines[0] == ["id", "kecamatan", "nilai"]
    *rows, end = lines[1:]
    assert 5_000 <= len(rows) < ROWS
    assert [int(row[0]) for row in rows] == list(range(1, len(rows) + 1))  # no gap, no repeat
    assert end[:2] == ["#ERROR", "SOURCE_UNAVAILABLE"], end
