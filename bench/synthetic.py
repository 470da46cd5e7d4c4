"""Synthetic residents of Kabupaten Karimun, loaded once into PostgreSQL.

The rows are generated deterministically (fixed seed), so every run on every
machine measures the same data. `ensure_loaded` reloads only when the row count or
`DATA_VERSION` differs from what the database holds, so reruns start at once.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg

DATA_VERSION = "penduduk-v1"
SEED = 20_240_601
CHUNK = 20_000

# The regency's 14 kecamatan with a relative population weight (every one holds at
# least 3% of the rows, so a page of 1,000 is always full from 34,000 rows up).
KECAMATAN: dict[str, int] = {
    "Karimun": 16, "Meral": 15, "Tebing": 11, "Meral Barat": 7, "Kundur": 8, "Kundur Barat": 5,
    "Kundur Utara": 5, "Moro": 6, "Durai": 3, "Buru": 4, "Belat": 4, "Ungar": 4, "Sugie Besar": 4,
    "Selat Gelam": 4,
}  # fmt: skip
KELURAHAN_WORDS = ["Tanjung", "Sungai", "Pasir", "Teluk", "Pulau", "Parit", "Batu", "Kampung"]
KELURAHAN_TAILS = ["Balai", "Lakam", "Panjang", "Harapan", "Baru", "Raya", "Jaya", "Hilir", "Ulu"]
FIRST = ["Siti", "Budi", "Ahmad", "Nur", "Rina", "Dedi", "Tan", "Agus", "Dewi", "Rudi", "Fitri", "Hendra"]
LAST = ["Aminah", "Santoso", "Yani", "Hidayat", "Lestari", "Saputra", "Wijaya", "Rahman", "Mei Ling"]
STREETS = ["Jl. Nusantara", "Jl. Ahmad Yani", "Jl. Pramuka", "Jl. Poros", "Jl. Telaga Riau", "Jl. Canggai"]
PEKERJAAN = [
    "Pelajar/Mahasiswa", "Wiraswasta", "Karyawan Swasta", "Nelayan/Perikanan", "Petani/Pekebun",
    "Mengurus Rumah Tangga", "Belum/Tidak Bekerja", "Pedagang", "Buruh Harian Lepas", "PNS", "Guru",
]  # fmt: skip
COLUMNS = (
    "nik", "nama", "jenis_kelamin", "tanggal_lahir", "kecamatan", "kelurahan", "alamat", "pekerjaan",
    "is_alive",
)  # fmt: skip
DDL = """
CREATE TABLE penduduk (
    nik text PRIMARY KEY,
    nama text NOT NULL,
    jenis_kelamin text NOT NULL,
    tanggal_lahir date,
    kecamatan text NOT NULL,
    kelurahan text NOT NULL,
    alamat text NOT NULL,
    pekerjaan text NOT NULL,
    is_alive boolean NOT NULL
)
"""
# (kecamatan, nik) serves `WHERE kecamatan = $1 ORDER BY nik LIMIT n` as one index range,
# so the database's share of each request is small and the same for hub and floor.
INDEX = "CREATE INDEX penduduk_kecamatan ON penduduk (kecamatan, nik)"
META = "CREATE TABLE bench_meta (version text NOT NULL, rows bigint NOT NULL)"

Record = tuple[str, str, str, dt.date | None, str, str, str, str, bool]


@dataclass(frozen=True)
class Loaded:
    rows: int
    reloaded: bool
    seconds: float


def kelurahan_of(rnd: random.Random) -> dict[str, list[str]]:
    return {
        kec: [f"{rnd.choice(KELURAHAN_WORDS)} {rnd.choice(KELURAHAN_TAILS)}" for _ in range(5)]
        for kec in KECAMATAN
    }


def residents(count: int, seed: int = SEED) -> Iterator[Record]:
    """`count` residents with unique 16-digit NIKs: 2102 (the regency), the kecamatan's
    code, the birth date as DDMMYY (day + 40 for women) and a serial."""
    rnd = random.Random(seed)
    names = list(KECAMATAN)
    codes = {kec: i + 1 for i, kec in enumerate(names)}
    weights = list(KECAMATAN.values())
    villages = kelurahan_of(rnd)
    serials: dict[str, int] = {}
    epoch = dt.date(1940, 1, 1)
    for i in range(count):
        kec = rnd.choices(names, weights)[0]
        born = epoch + dt.timedelta(days=rnd.randrange(0, 30_500))
        female = rnd.random() < 0.5
        prefix = f"2102{codes[kec]:02d}{born.day + (40 if female else 0):02d}{born:%m%y}"
        serials[prefix] = serials.get(prefix, 0) + 1
        yield (
            f"{prefix}{serials[prefix]:04d}",
            f"{rnd.choice(FIRST)} {rnd.choice(LAST)}",
            "PEREMPUAN" if female else "LAKI-LAKI",
            None if i % 97 == 0 else born,
            kec,
            rnd.choice(villages[kec]),
            f"{rnd.choice(STREETS)} No. {rnd.randrange(1, 300)}, RT {rnd.randrange(1, 9):03d}"
            f"/RW {rnd.randrange(1, 6):03d}",
            rnd.choice(PEKERJAAN),
            rnd.random() > 0.03,
        )


def chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for r in records:
        batch.append(r)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def ensure_database(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)
    finally:
        await conn.close()


async def is_current(conn: asyncpg.Connection, rows: int) -> bool:
    tables = await conn.fetchval(
        "SELECT count(*) FROM pg_tables"
        " WHERE schemaname = 'public' AND tablename IN ('penduduk', 'bench_meta')"
    )
    if tables != 2:
        return False
    meta = await conn.fetchrow("SELECT version, rows FROM bench_meta")
    if meta is None or meta["version"] != DATA_VERSION or meta["rows"] != rows:
        return False
    return bool(await conn.fetchval("SELECT count(*) FROM penduduk") == rows)


async def reload(conn: asyncpg.Connection, rows: int) -> None:
    async with conn.transaction():
        await conn.execute("DROP TABLE IF EXISTS penduduk, bench_meta")
        await conn.execute(DDL)
        await conn.execute(META)
        done, started = 0, time.perf_counter()
        for batch in chunks(residents(rows), CHUNK):
            await conn.copy_records_to_table("penduduk", records=batch, columns=COLUMNS)
            done += len(batch)
            seconds = time.perf_counter() - started
            print(f"  loaded {done:>9,} / {rows:,} residents ({seconds:.1f} s)", flush=True)
        print("  indexing kecamatan", flush=True)
        await conn.execute(INDEX)
        await conn.execute("INSERT INTO bench_meta VALUES ($1, $2)", DATA_VERSION, rows)
    await conn.execute("ANALYZE penduduk")


async def ensure_loaded(server_dsn: str, database: str, rows: int) -> Loaded:
    """`rows` residents in `database.penduduk`, loading them only when they are not there."""
    started = time.perf_counter()
    await ensure_database(f"{server_dsn}/postgres", database)
    conn = await asyncpg.connect(f"{server_dsn}/{database}")
    try:
        if await is_current(conn, rows):
            return Loaded(rows, False, time.perf_counter() - started)
        print(f"loading {rows:,} synthetic residents into {database}.penduduk", flush=True)
        await reload(conn, rows)
    finally:
        await conn.close()
    return Loaded(rows, True, time.perf_counter() - started)


async def kecamatan_in(dsn: str) -> list[str]:
    """The kecamatan present in the table, most populous first."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT kecamatan FROM penduduk GROUP BY kecamatan ORDER BY count(*) DESC")
    finally:
        await conn.close()
    return [r["kecamatan"] for r in rows]


async def people_in(dsn: str) -> list[tuple[str, str]]:
    """Every resident's (nik, nama), in NIK order: what W4's match records are drawn from."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT nik, nama FROM penduduk ORDER BY nik")
    finally:
        await conn.close()
    return [(r["nik"], r["nama"]) for r in rows]
