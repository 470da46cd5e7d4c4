"""An `in` or `nin` list longer than a statement may bind one value at a time (SQLite
takes 32,766; a relationship filter's list can hold a source's max_rows) gives the
same rows as the rule says, on every SQL source: SQLite gets such lists as one JSON
text (adapters/sql_pg.py `Binds.one_of`), PostgreSQL as one array."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Binding, Cmp, Order, PageQuery
from adapters.sql import SqlAdapter
from tests.support.databases import BACKENDS, ScratchDatabase
from tests.support.regency import PENDUDUK, load, make_rows

FIELDS = {"nik": "string", "kecamatan": "string", "anak": "integer"}
BINDING = Binding("dukcapil.penduduk", "nik", FIELDS, {f: f for f in FIELDS}, table="penduduk")


def long_list(kind: str) -> int:
    """Past what one SQLite statement binds on this machine (32,766 unless its SQLite
    was built otherwise; Debian's takes 250,000)."""
    if kind != "sqlite":
        return 40_000
    limit = sqlite3.connect(":memory:").getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return limit + 1


@pytest.mark.parametrize("kind", BACKENDS)
async def test_lists_past_the_bound_values_of_a_statement_select_what_they_list(
    kind: str, tmp_path: Path
) -> None:
    people, _ = make_rows(residents=600)
    db = await ScratchDatabase(kind, tmp_path).create()
    await load(db.url, PENDUDUK, people)
    adapter = SqlAdapter("s", {"url": db.url}, [BINDING])
    # every third resident's NIK among many that name no one
    long = long_list(kind)
    listed = [p["nik"] for p in people[::3]] + [f"7777{i:012d}" for i in range(long)]
    numbers = list(range(2, 2 + long))  # anak 0 and 1 are not listed

    async def niks(where: Any) -> set[str]:
        query = PageQuery("dukcapil.penduduk", ("nik",), where, (Order("nik"),), None, 10_000)
        return {r[0] for r in await adapter.fetch(query)}

    try:
        assert await niks(Cmp("nik", "in", tuple(listed))) == {p["nik"] for p in people[::3]}
        assert await niks(Cmp("nik", "nin", tuple(listed))) == {p["nik"] for p in people} - set(listed)
        assert await niks(Cmp("anak", "in", tuple(numbers))) == {
            p["nik"] for p in people if p["anak"] is not None and p["anak"] >= 2
        }
        # nin holds for NULL (a NULL differs from every value)
        assert await niks(Cmp("anak", "nin", tuple(numbers))) == {
            p["nik"] for p in people if p["anak"] is None or p["anak"] < 2
        }
        assert await adapter.count("dukcapil.penduduk", Cmp("nik", "in", tuple(listed))) == len(people[::3])
    finally:
        await adapter.close()
        await db.drop()
