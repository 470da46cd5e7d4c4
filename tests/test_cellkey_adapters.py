"""Cell keys computed by the sources (adapters/cellkey.py): SQLite, PostgreSQL and
MariaDB inside the aggregate statement, and the in-memory evaluator for sources the
hub aggregates itself, all give each group the cell key Python computes from the
group's records, with and without a filter; the prefix (which holds the secret) is a
bound parameter, never in the statement's text."""

from __future__ import annotations

import random
import string
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.base import AggregateQuery, Binding, CellKey, Cmp
from adapters.cellkey import SEPARATOR, ListedKeys, cell_key, cell_key_column, pg_seed, record_key
from adapters.lookup3 import hash_extended
from adapters.memory import MemoryAdapter
from adapters.sql import SqlAdapter
from tests.support.databases import BACKENDS, ScratchDatabase
from tests.support.regency import PENDUDUK, load, make_rows

PREFIX = "a secret\x1fdukcapil.penduduk\x1f"
FIELDS = {"nik": "string", "kecamatan": "string", "anak": "integer"}
BINDING = Binding("dukcapil.penduduk", "nik", FIELDS, {f: f for f in FIELDS}, table="penduduk")


def expected(rows: list[dict[str, Any]], kind: str, keep: Any = lambda r: True) -> dict[Any, tuple[int, int]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if keep(r):
            groups[r["kecamatan"]].append(r)
    return {k: (len(g), cell_key(record_key(PREFIX, r["nik"], kind) for r in g)) for k, g in groups.items()}


def by_group(rows: list[Any]) -> dict[Any, tuple[int, int]]:
    return {r[0]: (r[1], r[-1]) for r in rows}


@pytest.mark.parametrize("kind", [*BACKENDS, "memory"])
async def test_every_source_gives_each_group_the_cell_key_of_its_records(kind: str, tmp_path: Path) -> None:
    people, _ = make_rows()
    query = AggregateQuery("dukcapil.penduduk", ("kecamatan",), cell_key=CellKey(PREFIX, "nik"))
    filtered = AggregateQuery(
        "dukcapil.penduduk", ("kecamatan",), Cmp("anak", "gte", 1), cell_key=CellKey(PREFIX, "nik")
    )
    if kind == "memory":
        adapter: Any = MemoryAdapter("m", {"rows": {BINDING.name: people}}, [BINDING])
    else:
        db = await ScratchDatabase(kind, tmp_path).create()
        await load(db.url, PENDUDUK, people)
        adapter = SqlAdapter("s", {"url": db.url}, [BINDING])
    try:
        got = by_group(await adapter.aggregate(query))
        assert got == expected(people, kind) and len(got) > 3
        got = by_group(await adapter.aggregate(filtered))
        assert got == expected(people, kind, lambda r: r["anak"] is not None and r["anak"] >= 1)
        # without a cell key the rows are as before: no extra column
        plain = await adapter.aggregate(AggregateQuery("dukcapil.penduduk", ("kecamatan",)))
        assert {r[0]: r[1] for r in plain} == {k: n for k, (n, _) in expected(people, kind).items()}
        assert all(len(r) == 2 for r in plain)
    finally:
        await adapter.close()
        if kind != "memory":
            await db.drop()


def test_the_secret_is_bound_not_written_into_the_statement() -> None:
    column = cell_key_column(sa.bindparam("p0", PREFIX, type_=sa.Text()), sa.column("nik"))
    for dialect in (postgresql.dialect(), mysql.dialect(), sqlite.dialect()):
        text = str(sa.select(column).compile(dialect=dialect))
        hashed = ("sha1", "hub_record_key", "hashtextextended")
        assert "secret" not in text and any(h in text.lower() for h in hashed), text


async def test_postgresqls_seeded_hash_is_the_one_the_hub_computes(tmp_path: Path) -> None:
    """adapters/lookup3.py against PostgreSQL itself: every length around the 12-byte
    blocks, UTF-8, seeds of either sign and none."""
    rng = random.Random(5)
    texts = ["", "PB-000001", "2102010103850001", "Pulau Buru é"] + [
        "".join(rng.choice(string.printable[:94]) for _ in range(n)) for n in range(1, 40)
    ]
    seeds = [0, pg_seed(PREFIX), -pg_seed(PREFIX), 1 << 40]
    db = await ScratchDatabase("postgresql", tmp_path).create()
    engine = create_async_engine(db.url)
    try:
        async with engine.connect() as conn:
            for seed in seeds:
                got = (
                    await conn.execute(sa.select(*(sa.func.hashtextextended(t, seed) for t in texts)))
                ).one()
                assert list(got) == [hash_extended(t.encode(), seed) for t in texts], seed
    finally:
        await engine.dispose()
        await db.drop()


@pytest.mark.parametrize("kind", ["sqlite"])
async def test_keys_holding_the_separator_fall_back_to_the_statement(kind: str, tmp_path: Path) -> None:
    """SQLite lists each group's keys and the hub hashes them; a key holding the list's
    separator makes the count disagree, and the statement computes the cell key instead."""
    people, _ = make_rows(40)
    odd = [
        dict(p, nik=f"{p['nik'][:8]}{SEPARATOR}{p['nik'][9:]}") if i % 7 == 0 else p
        for i, p in enumerate(people)
    ]
    db = await ScratchDatabase(kind, tmp_path).create()
    await load(db.url, PENDUDUK, odd)
    adapter = SqlAdapter("s", {"url": db.url}, [BINDING])
    try:
        query = AggregateQuery("dukcapil.penduduk", ("kecamatan",), cell_key=CellKey(PREFIX, "nik"))
        assert by_group(await adapter.aggregate(query)) == expected(odd, kind)
    finally:
        await adapter.close()
        await db.drop()


def test_the_key_columns_have_cache_keys_that_tell_their_columns_apart() -> None:
    """SQLAlchemy compiles a statement once per cache key: a column without one made it
    compile the perturbed aggregate on every call (0.9 ms of a 6 ms request), and one
    whose key ignored the key column would run another dataset's statement."""

    def statement(column: str) -> sa.Select[Any]:
        prefix = sa.bindparam("p0", PREFIX, type_=sa.Text())
        return sa.select(cell_key_column(prefix, sa.column(column)), ListedKeys(sa.column(column)))

    nik, kk = statement("nik")._generate_cache_key(), statement("no_kk")._generate_cache_key()
    assert nik is not None and kk is not None
    assert nik == statement("nik")._generate_cache_key() and nik != kk
