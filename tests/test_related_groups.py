"""Aggregates grouped by a field of a to-one related row (hub/related_groups.py):
`groupByRelated: {penduduk: [statusHidup]}` on Dinsos's recipients, whose residents
live at Dukcapil.

The oracle is SQL over the same rows in one SQLite database: a LEFT JOIN (a recipient
whose NIK Dukcapil does not know falls in the group whose resident's values are null)
grouped by the own and the related fields. Counts, sums, minima, maxima and averages
equal it on SQLite, PostgreSQL, MariaDB and across them (residents on PostgreSQL,
recipients on MariaDB). Then the policy (`join` on the join fields, `aggregate` on the
field grouped by), the perturbed answer (each group's count is what the cell key of its
records publishes), and the bound (a source's max_rows).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests import test_relationship_filters as filters
from tests.support.disclosure import published_count
from tests.support.regency import Regency, load_regency, start_hub
from tests.support.regency import write_policies as write_rules
from tests.test_relationship_filters import MAX_ROWS, PEOPLE, RECIPIENTS, ask, error_of, last_record

# the regencies of tests/test_relationship_filters.py, on every layout, and their oracle
served, bounded, oracle = filters.served, filters.bounded, filters.oracle

GROUPS = """query Groups($where: DinsosPenerimaBansosAggregateWhere, $by: [DinsosPenerimaBansosField!],
    $related: [DukcapilPendudukField!]) {
  dinsos { penerimaBansosAggregate(where: $where, groupBy: $by, groupByRelated: {penduduk: $related}) {
    group { program tahun penduduk { statusHidup kecamatan } }
    count perturbed sum { nominal } avg { nominal } min { nominal } max { nominal } } } }"""
COUNTS = GROUPS.replace("sum { nominal } avg { nominal } min { nominal } max { nominal }", "sum { nominal }")

OWN = {"program": "b.program", "tahun": "b.tahun"}
RELATED = {"statusHidup": "p.is_alive", "kecamatan": "p.kecamatan"}

# (id, own groupBy, related groupBy, where, SQL condition)
CASES = [
    ("program by status", ["program"], ["statusHidup"], None, "1 = 1"),
    ("status alone", [], ["statusHidup"], None, "1 = 1"),
    (
        "kecamatan and year, a year's grants",
        ["tahun"],
        ["kecamatan"],
        {"tahun": {"in": [2024, 2025]}},
        "b.tahun IN (2024, 2025)",
    ),
    (
        "status and kecamatan through a relationship filter",
        ["program"],
        ["kecamatan", "statusHidup"],
        {"penduduk": {"anak": {"gte": 1}}},
        "EXISTS (SELECT 1 FROM penduduk q WHERE q.nik = b.nik AND q.anak >= 1)",
    ),
]


def sql_groups(
    db: sqlite3.Connection, own: list[str], related: list[str], condition: str
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """(own values, related values) -> (count, sum, min, max, avg) of nominal."""
    keys = [OWN[f] for f in own] + [RELATED[f] for f in related]
    select = ", ".join(
        [*keys, "count(*)", "sum(b.nominal)", "min(b.nominal)", "max(b.nominal)", "avg(b.nominal)"]
    )
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    query = f"SELECT {select} FROM penerima_bansos b LEFT JOIN penduduk p ON p.nik = b.nik WHERE {condition}{group}"
    n = len(keys)
    out = {}
    for row in db.execute(query):
        values = [
            bool(v) if k == "p.is_alive" and v is not None else v for k, v in zip(keys, row, strict=False)
        ]
        out[tuple(values)] = tuple(row[n:])
    return out


def answered(
    body: dict[str, Any], own: list[str], related: list[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    assert "errors" not in body, body["errors"]
    out = {}
    for g in body["data"]["dinsos"]["penerimaBansosAggregate"]:
        key = tuple(g["group"][f] for f in own) + tuple(g["group"]["penduduk"][f] for f in related)
        assert key not in out, key
        out[key] = g
    return out


@pytest.mark.parametrize(
    ("own", "related", "where", "condition"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_groups_by_a_related_field_equal_a_left_join(
    served: Regency,
    oracle: sqlite3.Connection,
    own: list[str],
    related: list[str],
    where: dict[str, Any] | None,
    condition: str,
) -> None:
    body = await ask(served.hub, "user:tester", GROUPS, {"where": where, "by": own, "related": related})
    got = answered(body, own, related)
    want = sql_groups(oracle, own, related, condition)
    assert set(got) == set(want)
    for key, (count, total, low, high, avg) in want.items():
        g = got[key]
        assert (g["count"], g["sum"]["nominal"], g["min"]["nominal"], g["max"]["nominal"]) == (
            count,
            total,
            low,
            high,
        )
        assert g["avg"]["nominal"] == pytest.approx(avg) and not g["perturbed"]
    # fields not grouped by answer null
    grouped = set(own) | {f"penduduk.{f}" for f in related}
    for g in got.values():
        for f in ("program", "tahun"):
            assert f in grouped or g["group"][f] is None
        for f in ("statusHidup", "kecamatan"):
            assert f"penduduk.{f}" in grouped or g["group"]["penduduk"][f] is None


async def test_minima_and_maxima_of_text_group_by_a_related_field_too(
    served: Regency, oracle: sqlite3.Connection
) -> None:
    """A text field has a minimum and a maximum but no sum: the source is asked for
    neither sum (PostgreSQL has no sum of text and refused the whole statement)."""
    query = """{ dinsos { penerimaBansosAggregate(groupByRelated: {penduduk: [statusHidup]}) {
        group { penduduk { statusHidup } } count min { program } max { program } } } }"""
    body = await ask(served.hub, "user:tester", query)
    got = answered(body, [], ["statusHidup"])
    rows = oracle.execute(
        "SELECT p.is_alive, count(*), min(b.program), max(b.program) "
        "FROM penerima_bansos b LEFT JOIN penduduk p ON p.nik = b.nik GROUP BY p.is_alive"
    )
    want = {(None if alive is None else bool(alive),): (n, low, high) for alive, n, low, high in rows}
    assert {k: (g["count"], g["min"]["program"], g["max"]["program"]) for k, g in got.items()} == want


def test_the_cases_split_groups_the_own_fields_alone_do_not(oracle: sqlite3.Connection) -> None:
    """Each case splits groups further than its own fields do; without a relationship
    filter, a group holds the recipients Dukcapil does not know (null resident values)."""
    for name, own, related, where, condition in CASES:
        if where is None:
            nulls = [
                k
                for k in sql_groups(oracle, own, related, condition)
                if k[len(own) :] == (None,) * len(related)
            ]
            assert nulls, name
        assert len(sql_groups(oracle, own, related, condition)) > len(
            sql_groups(oracle, own, [], condition)
        ), name


# ----- policy and disclosure, on one SQLite regency -----

RULES = """p, user:tester, *, *, allow
# counter may count recipients by program and by their resident's status: join and aggregate
p, user:counter, dinsos.penerima_bansos.program, aggregate, allow
p, user:counter, dinsos.penerima_bansos.nominal, aggregate, allow
p, user:counter, dinsos.penerima_bansos.nik, join, allow
p, user:counter, dukcapil.penduduk.nik, join, allow
p, user:counter, dukcapil.penduduk.status_hidup, aggregate, allow
# nojoin: counter without join on the residents' NIK
p, user:nojoin, dinsos.penerima_bansos.program, aggregate, allow
p, user:nojoin, dinsos.penerima_bansos.nominal, aggregate, allow
p, user:nojoin, dinsos.penerima_bansos.nik, join, allow
p, user:nojoin, dukcapil.penduduk.status_hidup, aggregate, allow
# matcher may compare the status, not count by it
p, user:matcher, dinsos.penerima_bansos.*, read, allow
p, user:matcher, dukcapil.penduduk.nik, match, allow
p, user:matcher, dukcapil.penduduk.status_hidup, match, allow
"""
DISCLOSURE_KEY = "related groups"


@pytest_asyncio.fixture(scope="module")
async def guarded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Regency]:
    tmp = tmp_path_factory.mktemp("related-groups")
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS)
    write_rules(tmp / "policies", RULES)
    hub, client = await start_hub(tmp, disclosure_key=DISCLOSURE_KEY)
    regency = Regency("sqlite", hub, client, PEOPLE, RECIPIENTS, databases)
    yield regency
    await regency.close()


async def test_a_caller_who_may_not_read_gets_each_group_as_its_cell_key_publishes(guarded: Regency) -> None:
    """user:counter may join and count, read nothing: each group's count is the one the
    cell key of exactly its records publishes, small groups keep public keys only, and
    the audit record says join and aggregate."""
    body = await ask(guarded.hub, "user:counter", COUNTS, {"by": ["program"], "related": ["statusHidup"]})
    assert "errors" not in body, body["errors"]
    groups = body["data"]["dinsos"]["penerimaBansosAggregate"]
    ds = guarded.hub.catalog.dataset("dinsos.penerima_bansos")
    alive = {p["nik"]: p["is_alive"] for p in PEOPLE}
    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in RECIPIENTS:
        cells.setdefault((r["program"], alive.get(r["nik"])), []).append(r)
    published = {k: published_count(DISCLOSURE_KEY, ds, rows) for k, rows in cells.items()}
    small = ds.spec.min_group_size + ds.spec.disclosure.max_noise
    # the status is internal: a small group shows its program alone
    shown = sorted(((k if n >= small else (k[0], None), n) for k, n in published.items() if n), key=repr)
    got = sorted(
        (((g["group"]["program"], g["group"]["penduduk"]["statusHidup"]), g["count"]) for g in groups),
        key=repr,
    )
    assert got == shown
    assert all(g["perturbed"] for g in groups)
    assert published != {k: len(rows) for k, rows in cells.items()}  # the noise shows
    record = await last_record(guarded.hub, "user:counter")
    assert {
        "dinsos.penerima_bansos.nik:join",
        "dukcapil.penduduk.nik:join",
        "dukcapil.penduduk.status_hidup:aggregate",
    } <= set(json.loads(record.pairs))


@pytest.mark.parametrize(
    ("subject", "obj", "words"),
    [
        ("user:nojoin", "dukcapil.penduduk.nik", "join on"),
        ("user:matcher", "dukcapil.penduduk.status_hidup", "group by"),
    ],
    ids=["no join", "match is no grouping"],
)
async def test_grouping_by_a_related_field_needs_join_and_aggregate(
    guarded: Regency, subject: str, obj: str, words: str
) -> None:
    body = await ask(guarded.hub, subject, COUNTS, {"by": ["program"], "related": ["statusHidup"]})
    error = error_of(body, "dinsos", "penerimaBansosAggregate")
    assert error["extensions"]["code"] == "FORBIDDEN" and error["extensions"]["object"] == obj, error
    assert f"you may not {words} {obj}" in error["message"]


async def test_past_max_rows_grouping_by_a_related_field_is_too_complex(bounded: Regency) -> None:
    """300 recipients name 209 residents, past max_rows (50): QUERY_TOO_COMPLEX, naming the
    relationship; within it (a few grants), an answer."""
    assert len({r["nik"] for r in RECIPIENTS}) > MAX_ROWS
    body = await ask(bounded.hub, "user:tester", COUNTS, {"by": ["program"], "related": ["statusHidup"]})
    error = error_of(body, "dinsos", "penerimaBansosAggregate")
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert "penduduk" in error["message"] and "max_rows" in error["message"]
    few = {"id": {"lte": 20}}
    body = await ask(bounded.hub, "user:tester", COUNTS, {"where": few, "by": [], "related": ["statusHidup"]})
    got = answered(body, [], ["statusHidup"])
    assert sum(g["count"] for g in got.values()) == 20
