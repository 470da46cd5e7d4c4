"""Synthetic welfare-aid recipients (Dinsos), loaded once into a second PostgreSQL database.

Each recipient's NIK is drawn from the residents already loaded by `synthetic.py`
(fixed seed), except about 3% that Dukcapil does not know (as in a real list), so
the cross-source relationship answers `null` for some rows. The version marker
names the residents' data too: new residents mean new recipients.
"""

from __future__ import annotations

import random
import time

import asyncpg
from synthetic import DATA_VERSION as RESIDENTS_VERSION
from synthetic import Loaded, ensure_database

DATA_VERSION = "penerima-v1"
SEED = 20_240_602
PROGRAMS: dict[str, tuple[int, list[int]]] = {  # weight, yearly amounts (rupiah)
    "PKH": (35, [900_000, 1_500_000, 2_400_000, 3_000_000]),
    "BPNT": (30, [1_800_000, 2_400_000]),
    "BLT-DD": (20, [3_600_000]),
    "PBI-JK": (15, [504_000, 1_008_000]),
}
YEARS = (2022, 2023, 2024, 2025)
UNKNOWN_SHARE = 0.03
COLUMNS = ("id", "nik", "program", "nominal", "tahun", "status")
DDL = """
CREATE TABLE penerima (
    id integer PRIMARY KEY,
    nik text NOT NULL,
    program text NOT NULL,
    nominal bigint NOT NULL,
    tahun integer NOT NULL,
    status text NOT NULL
)
"""
# Serves `WHERE program = $1 AND tahun = $2 ORDER BY id LIMIT n` as one index range.
INDEX = "CREATE INDEX penerima_program_tahun ON penerima (program, tahun, id)"
META = "CREATE TABLE bench_meta (version text NOT NULL, rows bigint NOT NULL)"

Record = tuple[int, str, str, int, int, str]


def recipients(count: int, niks: list[str], seed: int = SEED) -> list[Record]:
    """`count` recipients; `niks` are the residents' NIKs, in a fixed order."""
    rnd = random.Random(seed)
    programs = list(PROGRAMS)
    weights = [w for w, _ in PROGRAMS.values()]
    out: list[Record] = []
    for i in range(1, count + 1):
        program = rnd.choices(programs, weights)[0]
        unknown = rnd.random() < UNKNOWN_SHARE  # regency code 2199: no resident has it
        nik = f"2199{rnd.randrange(10**12):012d}" if unknown else rnd.choice(niks)
        status = "aktif" if rnd.random() < 0.9 else "nonaktif"
        out.append((i, nik, program, rnd.choice(PROGRAMS[program][1]), rnd.choice(YEARS), status))
    return out


def version(residents: int) -> str:
    return f"{DATA_VERSION}/{RESIDENTS_VERSION}:{residents}"


async def is_current(conn: asyncpg.Connection, rows: int, residents: int) -> bool:
    tables = await conn.fetchval(
        "SELECT count(*) FROM pg_tables"
        " WHERE schemaname = 'public' AND tablename IN ('penerima', 'bench_meta')"
    )
    if tables != 2:
        return False
    meta = await conn.fetchrow("SELECT version, rows FROM bench_meta")
    if meta is None or meta["version"] != version(residents) or meta["rows"] != rows:
        return False
    return bool(await conn.fetchval("SELECT count(*) FROM penerima") == rows)


async def ensure_recipients(server_dsn: str, residents_db: str, database: str, rows: int) -> Loaded:
    """`rows` recipients in `database.penerima`, drawn from `residents_db.penduduk`."""
    started = time.perf_counter()
    await ensure_database(f"{server_dsn}/postgres", database)
    source = await asyncpg.connect(f"{server_dsn}/{residents_db}")
    try:
        residents = int(await source.fetchval("SELECT rows FROM bench_meta"))
        conn = await asyncpg.connect(f"{server_dsn}/{database}")
        try:
            if await is_current(conn, rows, residents):
                return Loaded(rows, False, time.perf_counter() - started)
            print(f"loading {rows:,} synthetic recipients into {database}.penerima", flush=True)
            niks = [r["nik"] for r in await source.fetch("SELECT nik FROM penduduk ORDER BY nik")]
            async with conn.transaction():
                await conn.execute("DROP TABLE IF EXISTS penerima, bench_meta")
                await conn.execute(DDL)
                await conn.execute(META)
                await conn.copy_records_to_table("penerima", records=recipients(rows, niks), columns=COLUMNS)
                await conn.execute(INDEX)
                await conn.execute("INSERT INTO bench_meta VALUES ($1, $2)", version(residents), rows)
            await conn.execute("ANALYZE penerima")
        finally:
            await conn.close()
    finally:
        await source.close()
    return Loaded(rows, True, time.perf_counter() - started)
