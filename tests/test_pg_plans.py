"""A PostgreSQL source plans each statement for its values (adapters/sql_pg.py).

PostgreSQL gives a prepared statement a generic plan after five executions when that
looks no costlier, and a generic plan cannot see its values: `is_alive = $1 ... ORDER
BY nik LIMIT $2` then walks the whole key index for the 3 % of the dead, 46 ms where
a custom plan takes 11 (100,000 residents, bench/across.py). The hub's statements are
few shapes with values of any selectivity, so its source connections ask for a custom
plan every time."""

from __future__ import annotations

from pathlib import Path

from adapters.base import Binding, Cmp, Order, PageQuery
from adapters.sql import SqlAdapter
from tests.support.databases import ScratchDatabase
from tests.support.regency import PENDUDUK, load, make_rows

FIELDS = {"nik": "string", "kecamatan": "string", "anak": "integer"}
BINDING = Binding("dukcapil.penduduk", "nik", FIELDS, {f: f for f in FIELDS}, table="penduduk")


async def test_every_execution_gets_a_plan_for_its_values(tmp_path: Path) -> None:
    people, _ = make_rows(residents=300)
    db = await ScratchDatabase("postgresql", tmp_path).create()
    await load(db.url, PENDUDUK, people)
    adapter = SqlAdapter("s", {"url": db.url}, [BINDING])
    try:
        for anak in range(8):  # past the five executions after which a plan may turn generic
            query = PageQuery(
                "dukcapil.penduduk", ("nik",), Cmp("anak", "eq", anak), (Order("nik"),), None, 500
            )
            got = {r[0] for r in await adapter.fetch(query)}
            assert got == {p["nik"] for p in people if p["anak"] == anak}
        assert adapter.pg is not None
        (setting,) = await adapter.pg.pool().fetch("SELECT current_setting('plan_cache_mode')")
        assert setting[0] == "force_custom_plan"
    finally:
        await adapter.close()
        await db.drop()
