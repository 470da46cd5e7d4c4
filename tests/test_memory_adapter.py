"""The in-memory evaluation gives the same answers as SQL on the same rows.

This is what sources that cannot filter or sort themselves fall back on, so it must
agree with the SQL adapter operator by operator, NULL by NULL."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from adapters.base import AggregateQuery, And, Cmp, Filter, Not, Or, Order, PageQuery
from adapters.memory import MemoryAdapter
from hub.sources import binding
from tests.support.regency import Regency

DS = "dukcapil.penduduk"
FIELDS = ("nik", "nama", "kecamatan", "tanggal_lahir", "status_hidup", "tinggi", "saldo", "anak")
VALUES: dict[str, list[Any]] = {
    "nik": ["210200000000005", "210200000000100", "2102"],
    "nama": ["ani", "Ani", "Zulkifli", "m"],
    "kecamatan": ["Meral", "Moro", "Tebing"],
    "tanggal_lahir": [dt.date(1950, 1, 1), dt.date(1990, 6, 30)],
    "status_hidup": [True, False],
    "tinggi": [150.0, 170.5],
    "saldo": [Decimal("1000.00"), Decimal("50000.5")],
    "anak": [0, 2, 5],
}
OPS = {
    "string": ["eq", "neq", "in", "nin", "lt", "gte", "isNull", "like"],
    "other": ["eq", "neq", "in", "nin", "lt", "lte", "gt", "gte", "isNull"],
}


def random_filter(rnd: random.Random, depth: int = 0) -> Filter:
    roll = rnd.random()
    if depth < 2 and roll < 0.15:
        return And(tuple(random_filter(rnd, depth + 1) for _ in range(2)))
    if depth < 2 and roll < 0.3:
        return Or(tuple(random_filter(rnd, depth + 1) for _ in range(2)))
    if depth < 2 and roll < 0.4:
        return Not(random_filter(rnd, depth + 1))
    field = rnd.choice(FIELDS)
    ops = OPS["string"] if field in ("nik", "nama", "kecamatan") else OPS["other"]
    if field == "status_hidup":
        ops = ["eq", "neq", "isNull"]
    op = rnd.choice(ops)
    if op == "isNull":
        return Cmp(field, op, rnd.random() < 0.5)
    if op in ("in", "nin"):
        return Cmp(field, op, tuple(rnd.sample(VALUES[field], 2)))
    if op == "like":
        return Cmp(field, op, rnd.choice(["%an%", "A_i", "%r%l", "2102%5"]))
    return Cmp(field, op, rnd.choice(VALUES[field]))


@pytest.fixture(scope="module")
def memory(sqlite_regency: Regency) -> MemoryAdapter:
    rows = [
        {**{k: p[k] for k in p if k != "is_alive"}, "status_hidup": p["is_alive"]}
        for p in sqlite_regency.people
    ]
    return MemoryAdapter("memory", {"rows": {DS: rows}}, [binding(sqlite_regency.hub.catalog.dataset(DS))])


async def test_random_pages_agree_with_sql(sqlite_regency: Regency, memory: MemoryAdapter) -> None:
    sql = sqlite_regency.hub.sources.of_dataset[DS].adapter
    rnd = random.Random(11)
    for _ in range(150):
        where = random_filter(rnd)
        order = tuple(Order(f, rnd.random() < 0.5) for f in rnd.sample(FIELDS[1:], rnd.randrange(0, 3)))
        order += (Order("nik"),)
        q = PageQuery(DS, FIELDS, where, order, None, 1000)
        expected = await sql.fetch(q)
        assert await memory.fetch(q) == expected, (where, order)
        assert await memory.count(DS, where) == await sql.count(DS, where) == len(expected)
        if len(expected) > 3:
            after = tuple(expected[2][FIELDS.index(o.field)] for o in order)
            q2 = PageQuery(DS, FIELDS, where, order, after, 5)
            assert await memory.fetch(q2) == await sql.fetch(q2) == expected[3:8]


async def test_aggregates_and_lookups_agree_with_sql(sqlite_regency: Regency, memory: MemoryAdapter) -> None:
    sql = sqlite_regency.hub.sources.of_dataset[DS].adapter
    rnd = random.Random(5)
    for group_by in [(), ("kecamatan",), ("kecamatan", "status_hidup"), ("anak",)]:
        where = random_filter(rnd)
        q = AggregateQuery(
            DS,
            group_by,
            where,
            (("sum", "anak"), ("min", "tanggal_lahir"), ("max", "nama"), ("avg", "tinggi")),
        )
        got, want = await memory.aggregate(q), await sql.aggregate(q)
        assert [r[:-1] for r in got] == [r[:-1] for r in want]
        assert [r[-1] for r in got] == pytest.approx([r[-1] for r in want])
    niks = [p["nik"] for p in sqlite_regency.people[::7]] + ["nope"]
    assert await memory.lookup(DS, "nik", niks, FIELDS) == await sql.lookup(DS, "nik", niks, FIELDS)
