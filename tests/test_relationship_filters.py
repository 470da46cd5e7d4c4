"""Relationship filters in `where` (hub/semijoin.py, hub/gql/translate.py): a recipient by
its resident (`{penduduk: {statusHidup: {eq: false}}}`, `{penduduk: {exists: false}}`), a
resident by its recipients (`{penerimaBansos: {some | none | every: {...}}}`).

The oracle is SQL written by hand: the same rows copied into one SQLite database, each
filter as EXISTS / NOT EXISTS. Every filter's rows, paged through to the end, and its
totalCount equal the oracle's on SQLite, PostgreSQL, MariaDB and across two sources
(residents on PostgreSQL, recipients on MariaDB). Then the policy (join fields need
`match`, related values `read`), disclosure (perturbed unless every field is readable),
the audit record, and the bounds (a source's `max_rows`, three levels of nesting).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hub.audit.log import records
from hub.http.hub import Hub
from tests.support.catalogs import (
    DINSOS,
    DUKCAPIL,
    opd_file,
    penduduk,
    penerima_bansos,
    sql_source,
    write_opd,
)
from tests.support.disclosure import published_count
from tests.support.regency import Regency, client_for, http_client, load_regency, make_rows, start_hub
from tests.support.regency import write_policies as write_rules

PEOPLE, RECIPIENTS = make_rows()
PAGE = 37  # small and prime: pages end anywhere, never with a whole page at the end by luck

# (residents' backend, recipients' backend)
LAYOUTS = {
    "sqlite": ("sqlite", "sqlite"),
    "postgresql": ("postgresql", "postgresql"),
    "mariadb": ("mariadb", "mariadb"),
    "postgresql+mariadb": ("postgresql", "mariadb"),
}

RECIPIENTS_PAGE = """query Page($where: DinsosPenerimaBansosWhere, $after: String, $first: Int = 37) {
  dinsos { penerimaBansos(first: $first, after: $after, where: $where) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor } nodes { id } } } }"""
RESIDENTS_PAGE = """query Page($where: DukcapilPendudukWhere, $after: String, $first: Int = 37) {
  dukcapil { penduduk(first: $first, after: $after, where: $where) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor } nodes { nik } } } }"""
READS = {
    "recipients": (RECIPIENTS_PAGE, "dinsos", "penerimaBansos", "id"),
    "residents": (RESIDENTS_PAGE, "dukcapil", "penduduk", "nik"),
}
# the oracle's table, alias and key per dataset; each case's SQL condition uses the alias
TABLES = {"recipients": ("penerima_bansos", "b", "id"), "residents": ("penduduk", "p", "nik")}

ALIVE = "EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik AND p.is_alive = {})"
KNOWN = "EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik)"
GRANTS = "EXISTS (SELECT 1 FROM penerima_bansos b WHERE b.nik = p.nik{})"

# (id, dataset, where, the SQL condition the rows must satisfy)
CASES = [
    ("to-one eq", "recipients", {"penduduk": {"statusHidup": {"eq": False}}}, ALIVE.format(0)),
    (
        "to-one ranges",
        "recipients",
        {"penduduk": {"tanggalLahir": {"gte": "1975-01-01"}, "anak": {"lt": 3}}},
        "EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik"
        " AND p.tanggal_lahir >= '1975-01-01' AND p.anak < 3)",
    ),
    (
        "to-one like, case-insensitive",
        "recipients",
        {"penduduk": {"nama": {"like": "%AN%"}}},
        "EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik AND lower(p.nama) LIKE '%an%')",
    ),
    ("to-one exists false", "recipients", {"penduduk": {"exists": False}}, f"NOT {KNOWN}"),
    (
        "a related NULL is not a missing row",
        "recipients",
        {"and": [{"not": {"penduduk": {"exists": False}}}, {"penduduk": {"anak": {"isNull": True}}}]},
        "EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik AND p.anak IS NULL)",
    ),
    (
        "to-one exists true and an own field",
        "recipients",
        {"penduduk": {"exists": True}, "program": {"eq": "PKH"}, "tahun": {"eq": 2025}},
        f"{KNOWN} AND b.program = 'PKH' AND b.tahun = 2025",
    ),
    (
        "or of exists false and a related eq",
        "recipients",
        {"or": [{"penduduk": {"exists": False}}, {"penduduk": {"statusHidup": {"eq": False}}}]},
        f"NOT {KNOWN} OR {ALIVE.format(0)}",
    ),
    (
        "not of a related eq and an own range",
        "recipients",
        {"not": {"penduduk": {"statusHidup": {"eq": True}}}, "nominal": {"lt": 1_000_000}},
        f"NOT {ALIVE.format(1)} AND b.nominal < 1000000",
    ),
    (
        "not of a related value no row has",
        "recipients",
        {"not": {"penduduk": {"kecamatan": {"eq": "Atlantis"}}}},
        "1 = 1",
    ),
    (
        "to-many some",
        "residents",
        {"penerimaBansos": {"some": {"program": {"eq": "PKH"}, "tahun": {"eq": 2025}}}},
        GRANTS.format(" AND b.program = 'PKH' AND b.tahun = 2025"),
    ),
    (
        "to-many none with a range",
        "residents",
        {"penerimaBansos": {"none": {"nominal": {"gt": 1_000_000}}}},
        "NOT " + GRANTS.format(" AND b.nominal > 1000000"),
    ),
    (
        "to-many every",
        "residents",
        {"penerimaBansos": {"every": {"program": {"in": ["PKH", "BPNT"]}}}},
        # every: no related row for which it does not hold (true where there is none)
        "NOT " + GRANTS.format(" AND (b.program IN ('PKH', 'BPNT')) IS NOT TRUE"),
    ),
    (
        "to-many some and none together",
        "residents",
        {"penerimaBansos": {"some": {"program": {"eq": "PKH"}}, "none": {"program": {"eq": "BPNT"}}}},
        GRANTS.format(" AND b.program = 'PKH'") + " AND NOT " + GRANTS.format(" AND b.program = 'BPNT'"),
    ),
    ("to-many some {}", "residents", {"penerimaBansos": {"some": {}}}, GRANTS.format("")),
    ("to-many none {}", "residents", {"penerimaBansos": {"none": {}}}, "NOT " + GRANTS.format("")),
    (
        "to-many every nothing holds: none",
        "residents",
        {"penerimaBansos": {"every": {"program": {"eq": "no such program"}}}},
        "NOT " + GRANTS.format(""),
    ),
    (
        "or of to-many some and an own eq",
        "residents",
        {"or": [{"penerimaBansos": {"some": {"tahun": {"eq": 2024}}}}, {"kecamatan": {"eq": "Moro"}}]},
        GRANTS.format(" AND b.tahun = 2024") + " OR p.kecamatan = 'Moro'",
    ),
    (
        "and of own in, not of some, not of an own range",
        "residents",
        {
            "and": [
                {"kecamatan": {"in": ["Meral", "Tebing"]}},
                {"not": {"penerimaBansos": {"some": {"program": {"eq": "BLT-DD"}}}}},
                {"not": {"anak": {"gte": 3}}},
            ]
        },
        # `not` is two-valued: a NULL comparison counts as false, so its `not` holds
        "p.kecamatan IN ('Meral', 'Tebing') AND NOT "
        + GRANTS.format(" AND b.program = 'BLT-DD'")
        + " AND (p.anak >= 3) IS NOT TRUE",
    ),
    (
        "two levels: residents with a grant whose resident is in a kecamatan",
        "residents",
        {"penerimaBansos": {"some": {"penduduk": {"kecamatan": {"eq": "Meral"}}}}},
        GRANTS.format(" AND EXISTS (SELECT 1 FROM penduduk q WHERE q.nik = b.nik AND q.kecamatan = 'Meral')"),
    ),
    (
        "two levels inside or",
        "residents",
        {"penerimaBansos": {"some": {"or": [{"penduduk": {"anak": {"eq": 0}}}, {"program": {"eq": "PKH"}}]}}},
        GRANTS.format(
            " AND (EXISTS (SELECT 1 FROM penduduk q WHERE q.nik = b.nik AND q.anak = 0) OR b.program = 'PKH')"
        ),
    ),
    (
        "two levels: recipients whose resident has another program",
        "recipients",
        {"penduduk": {"penerimaBansos": {"some": {"program": {"eq": "PKH"}}}}, "program": {"neq": "PKH"}},
        "EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik AND EXISTS"
        " (SELECT 1 FROM penerima_bansos c WHERE c.nik = p.nik AND c.program = 'PKH'))"
        " AND b.program <> 'PKH'",
    ),
    (
        "two levels under every",
        "residents",
        {"penerimaBansos": {"every": {"penduduk": {"anak": {"gte": 1}}}}},
        "NOT "
        + GRANTS.format(" AND NOT EXISTS (SELECT 1 FROM penduduk q WHERE q.nik = b.nik AND q.anak >= 1)"),
    ),
]

# (id, dataset, groupBy, where, SQL condition)
AGGREGATES = [
    (
        "recipients by program",
        "recipients",
        "program",
        {"or": [{"penduduk": {"exists": False}}, {"penduduk": {"anak": {"gte": 4}}}]},
        f"NOT {KNOWN} OR EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik AND p.anak >= 4)",
    ),
    (
        "residents by kecamatan",
        "residents",
        "kecamatan",
        {"penerimaBansos": {"some": {"program": {"eq": "PKH"}}}, "statusHidup": {"eq": True}},
        GRANTS.format(" AND b.program = 'PKH'") + " AND p.is_alive = 1",
    ),
]
AGGREGATE = """query Groups($where: {type}) {{
  {opd} {{ {field}Aggregate(groupBy: [{by}], where: $where) {{ group {{ {by} }} count perturbed }} }} }}"""
AGGREGATE_TYPES = {
    "recipients": ("DinsosPenerimaBansosAggregateWhere", "dinsos", "penerimaBansos"),
    "residents": ("DukcapilPendudukAggregateWhere", "dukcapil", "penduduk"),
}
GROUPED_BY = {"recipients": "program", "residents": "kecamatan"}  # for aggregates that only must fail


# ----- the oracle -----


@pytest.fixture(scope="module")
def oracle() -> Iterator[sqlite3.Connection]:
    """The regency's rows in one SQLite database, for the SQL written above."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE penduduk (nik TEXT PRIMARY KEY, nama TEXT, kecamatan TEXT,"
        " tanggal_lahir TEXT, is_alive INTEGER, anak INTEGER)"
    )
    db.execute(
        "CREATE TABLE penerima_bansos (id INTEGER PRIMARY KEY, nik TEXT, program TEXT, nominal INTEGER, tahun INTEGER)"
    )
    db.executemany(
        "INSERT INTO penduduk VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                p["nik"],
                p["nama"],
                p["kecamatan"],
                p["tanggal_lahir"] and p["tanggal_lahir"].isoformat(),
                int(p["is_alive"]),
                p["anak"],
            )
            for p in PEOPLE
        ],
    )
    db.executemany(
        "INSERT INTO penerima_bansos VALUES (?, ?, ?, ?, ?)",
        [(r["id"], r["nik"], r["program"], r["nominal"], r["tahun"]) for r in RECIPIENTS],
    )
    yield db
    db.close()


def sql_keys(db: sqlite3.Connection, dataset: str, condition: str) -> list[Any]:
    table, alias, key = TABLES[dataset]
    query = f"SELECT {alias}.{key} FROM {table} AS {alias} WHERE {condition} ORDER BY {alias}.{key}"
    return [row[0] for row in db.execute(query)]


def sql_groups(db: sqlite3.Connection, dataset: str, by: str, condition: str) -> dict[Any, int]:
    table, alias, _ = TABLES[dataset]
    query = f"SELECT {alias}.{by}, count(*) FROM {table} AS {alias} WHERE {condition} GROUP BY {alias}.{by}"
    return dict(db.execute(query).fetchall())


# ----- asking the hub -----


async def ask(hub: Hub, subject: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of `query` asked by `subject`: always HTTP 200 (field errors included),
    never a server error."""
    client = await client_for(hub, subject, raise_app_exceptions=False)
    try:
        r = await client.post("/graphql", json={"query": query, "variables": variables})
    finally:
        await client.aclose()
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def every_page(hub: Hub, subject: str, dataset: str, where: dict[str, Any]) -> tuple[list[Any], int]:
    """Every row key `where` selects, in key order, following endCursor to the end; and
    the totalCount, the same on every page."""
    query, opd, field, key = READS[dataset]
    keys: list[Any] = []
    totals: set[int] = set()
    after = None
    for _ in range(len(PEOPLE) // PAGE + 2):
        body = await ask(hub, subject, query, {"where": where, "after": after, "first": PAGE})
        assert "errors" not in body, body["errors"]
        page = body["data"][opd][field]
        totals.add(page["totalCount"])
        keys += [n[key] for n in page["nodes"]]
        assert len(page["edges"]) == len(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            assert len(totals) == 1, totals
            return keys, totals.pop()
        assert len(page["nodes"]) == PAGE
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    raise AssertionError(f"{dataset} {where}: more pages than rows")


def error_of(body: dict[str, Any], opd: str, field: str) -> dict[str, Any]:
    """The one error of a refused field, which answers null."""
    assert body["data"] is None or body["data"][opd][field] is None, body
    (error,) = body["errors"]
    assert error["path"] == [opd, field]
    return error  # type: ignore[no-any-return]


# ----- 1. the hub's answers equal the oracle's on every layout -----


@asynccontextmanager
async def on_layout(
    layout: str, tmp_path_factory: pytest.TempPathFactory, **settings: Any
) -> AsyncIterator[Regency]:
    """The rows on `layout` (one of LAYOUTS), and a hub over them with `settings`
    (user:tester may do anything)."""
    residents, recipients = LAYOUTS[layout]
    tmp = tmp_path_factory.mktemp(layout.replace("+", "-"))
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS, kind=residents, recipients_kind=recipients)
    hub, client = await start_hub(tmp, **settings)
    regency = Regency(layout, hub, client, PEOPLE, RECIPIENTS, databases)
    try:
        yield regency
    finally:
        await regency.close()


@pytest_asyncio.fixture(scope="module", params=list(LAYOUTS))
async def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Regency]:
    async with on_layout(request.param, tmp_path_factory) as regency:
        yield regency


@pytest.mark.parametrize(("dataset", "where", "condition"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_relationship_filter_selects_the_rows_sql_does(
    served: Regency, oracle: sqlite3.Connection, dataset: str, where: dict[str, Any], condition: str
) -> None:
    want = sql_keys(oracle, dataset, condition)
    keys, total = await every_page(served.hub, "user:tester", dataset, where)
    assert keys == want
    assert total == len(want)


def test_the_cases_select_some_rows_but_not_all(oracle: sqlite3.Connection) -> None:
    """Each case above tells filters apart: it selects a part of its dataset (one, with a
    related value no row has, keeps every row on purpose)."""
    for name, dataset, _, condition in CASES:
        n = len(sql_keys(oracle, dataset, condition))
        everything = len(sql_keys(oracle, dataset, "1 = 1"))
        if "no row has" in name:
            assert n == everything, name
        else:
            assert 0 < n < everything, name


@pytest.mark.parametrize(
    ("dataset", "by", "where", "condition"), [a[1:] for a in AGGREGATES], ids=[a[0] for a in AGGREGATES]
)
async def test_a_relationship_filter_in_an_aggregate_counts_what_sql_does(
    served: Regency, oracle: sqlite3.Connection, dataset: str, by: str, where: dict[str, Any], condition: str
) -> None:
    type_, opd, field = AGGREGATE_TYPES[dataset]
    query = AGGREGATE.format(type=type_, opd=opd, field=field, by=by)
    body = await ask(served.hub, "user:tester", query, {"where": where})
    assert "errors" not in body, body["errors"]
    groups = body["data"][opd][f"{field}Aggregate"]
    assert {g["group"][by]: g["count"] for g in groups} == sql_groups(oracle, dataset, by, condition)
    assert len(groups) > 1 and not any(g["perturbed"] for g in groups)


# ----- 2.-4. policy, disclosure and audit, on one SQLite regency -----

RULES = """p, user:tester, *, *, allow
p, user:audited, *, *, allow
# x may read recipients, and only compare residents' NIKs
p, user:x, dinsos.penerima_bansos.*, read, allow
p, user:x, dukcapil.penduduk.nik, match, allow
# r: x, and may read whether a resident lives
p, user:r, dinsos.penerima_bansos.*, read, allow
p, user:r, dukcapil.penduduk.nik, match, allow
p, user:r, dukcapil.penduduk.status_hidup, read, allow
# m may compare every field of the residents, read none
p, user:m, dinsos.penerima_bansos.*, read, allow
p, user:m, dukcapil.penduduk.*, match, allow
# m2: m, for the guess budget alone
p, user:m2, dinsos.penerima_bansos.*, read, allow
p, user:m2, dukcapil.penduduk.*, match, allow
# mr may read residents and only compare recipients' fields
p, user:mr, dukcapil.penduduk.*, read, allow
p, user:mr, dinsos.penerima_bansos.*, match, allow
# nobody may read recipients and nothing of Dukcapil (public: the public schema)
p, user:nobody, dinsos.penerima_bansos.*, read, allow
p, public, dinsos.penerima_bansos.*, read, allow
# counter may count recipients by program, among residents whose status it may read
p, user:counter, dinsos.penerima_bansos.program, aggregate, allow
p, user:counter, dinsos.penerima_bansos.nik, match, allow
p, user:counter, dukcapil.penduduk.nik, match, allow
p, user:counter, dukcapil.penduduk.status_hidup, read, allow
# r2: r, and may read residents' NIKs as well (every field a DEAD filter uses)
p, user:r2, dinsos.penerima_bansos.*, read, allow
p, user:r2, dukcapil.penduduk.nik, read, allow
p, user:r2, dukcapil.penduduk.status_hidup, read, allow
# counts may count recipients by program among dead residents, and compare nothing:
# join on the join fields, aggregate on the status (the demo analyst's rights)
p, user:counts, dinsos.penerima_bansos.program, aggregate, allow
p, user:counts, dinsos.penerima_bansos.nik, join, allow
p, user:counts, dukcapil.penduduk.nik, join, allow
p, user:counts, dukcapil.penduduk.status_hidup, aggregate, allow
# mixed: counts, but may compare the status instead of counting by it
p, user:mixed, dinsos.penerima_bansos.program, aggregate, allow
p, user:mixed, dinsos.penerima_bansos.nik, join, allow
p, user:mixed, dukcapil.penduduk.nik, join, allow
p, user:mixed, dukcapil.penduduk.status_hidup, match, allow
# residents may read residents and recipients' programs, not compare recipients' NIKs
p, user:residents, dukcapil.penduduk.*, read, allow
p, user:residents, dinsos.penerima_bansos.program, read, allow
"""
DISCLOSURE_KEY = "relationship filters"
DEAD = {"penduduk": {"statusHidup": {"eq": False}}}
UNKNOWN = {"penduduk": {"exists": False}}
FIRST_100 = """query($where: DinsosPenerimaBansosWhere) {
  dinsos { penerimaBansos(first: 100, where: $where) { totalCount nodes { id } } } }"""


@pytest_asyncio.fixture(scope="module")
async def guarded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Regency]:
    tmp = tmp_path_factory.mktemp("guarded")
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS)
    write_rules(tmp / "policies", RULES)
    hub, client = await start_hub(tmp, disclosure_key=DISCLOSURE_KEY)
    regency = Regency("sqlite", hub, client, PEOPLE, RECIPIENTS, databases)
    yield regency
    await regency.close()


COUNT_BY_PROGRAM = """query($where: DinsosPenerimaBansosAggregateWhere) {
  dinsos { penerimaBansosAggregate(groupBy: [program], where: $where) { group { program } count perturbed } } }"""


async def refusal(hub: Hub, subject: str, where: dict[str, Any], how: str) -> dict[str, Any]:
    """The error of recipients read (`how`: read) or counted (aggregate) by `where`."""
    query, field = (
        (FIRST_100, "penerimaBansos") if how == "read" else (COUNT_BY_PROGRAM, "penerimaBansosAggregate")
    )
    return error_of(await ask(hub, subject, query, {"where": where}), "dinsos", field)


# (subject, where, the object refused)
REFUSED = [
    ("user:x", DEAD, "dukcapil.penduduk.status_hidup"),  # no right at all on the value
    ("user:nobody", UNKNOWN, "dukcapil.penduduk.nik"),  # no match on the related join field
    ("user:nobody", {"penduduk": {"exists": True}}, "dukcapil.penduduk.nik"),
]


@pytest.mark.parametrize("how", ["read", "aggregate"])
@pytest.mark.parametrize(
    ("subject", "where", "obj"),
    REFUSED,
    ids=["no right", "absent unmatched", "present unmatched"],
)
async def test_a_missing_right_on_a_related_field_is_forbidden(
    guarded: Regency, subject: str, where: dict[str, Any], obj: str, how: str
) -> None:
    error = await refusal(guarded.hub, subject, where, how)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["object"] == obj and obj in error["message"]


async def last_record(hub: Hub, subject: str) -> Any:
    (record, *_) = [r async for r in records(hub.store) if r.subject == subject][::-1]
    return record


async def test_a_related_value_the_caller_may_only_match_is_verified_row_by_row(
    guarded: Regency, oracle: sqlite3.Connection
) -> None:
    """m may compare, not read, a resident's status: the filter verifies each recipient's
    resident, as the Match field would, and its record counts the residents it named."""
    keys, total = await every_page(guarded.hub, "user:m", "recipients", DEAD)
    assert keys == sql_keys(oracle, "recipients", ALIVE.format(0)) and total == len(keys) > 0
    named = {r["nik"] for r in guarded.recipients}  # every recipient's resident is compared
    assert (await last_record(guarded.hub, "user:m")).records == len(named)
    body = await ask(guarded.hub, "user:m", COUNT_BY_PROGRAM, {"where": DEAD})
    assert "errors" not in body, body["errors"]
    assert all(g["perturbed"] for g in body["data"]["dinsos"]["penerimaBansosAggregate"])
    assert (await last_record(guarded.hub, "user:m")).records == len(named)
    # rows the rest of the filter leaves are the only ones named
    pkh = {"program": {"eq": "PKH"}, **DEAD}
    keys, _ = await every_page(guarded.hub, "user:m", "recipients", pkh)
    assert keys == sql_keys(oracle, "recipients", f"b.program = 'PKH' AND {ALIVE.format(0)}")
    named_pkh = {r["nik"] for r in guarded.recipients if r["program"] == "PKH"}
    assert (await last_record(guarded.hub, "user:m")).records == len(named_pkh) < len(named)


async def test_two_tests_of_the_same_records_compare_each_record_once(
    guarded: Regency, oracle: sqlite3.Connection
) -> None:
    """Unknown or dead: two verifications name the same residents; the request counts
    each once (the limit and the day's quota see 209 records, not 418)."""
    where = {"or": [UNKNOWN, DEAD]}
    keys, _ = await every_page(guarded.hub, "user:m", "recipients", where)
    assert keys == sql_keys(oracle, "recipients", f"NOT {KNOWN} OR {ALIVE.format(0)}")
    named = {r["nik"] for r in guarded.recipients}
    assert (await last_record(guarded.hub, "user:m")).records == len(named)


# a related field m may only match, used where one value per record cannot be held to
UNVERIFIABLE = {
    "two values at once": {"penduduk": {"kecamatan": {"in": ["Meral", "Karimun"]}}},
    "inside or": {"penduduk": {"or": [{"statusHidup": {"eq": False}}, {"anak": {"eq": 0}}]}},
    "inside not": {"penduduk": {"not": {"statusHidup": {"eq": True}}}},
    "negated by the caller": {"not": {"penduduk": {"statusHidup": {"eq": True}}}, "program": {"eq": "PKH"}},
}


@pytest.mark.parametrize("how", ["read", "aggregate"])
@pytest.mark.parametrize("where", UNVERIFIABLE.values(), ids=UNVERIFIABLE.keys())
async def test_a_related_value_the_caller_may_only_match_is_compared_one_value_per_record(
    guarded: Regency, where: dict[str, Any], how: str
) -> None:
    error = await refusal(guarded.hub, "user:m", where, how)
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert error["extensions"]["object"].startswith("dukcapil.penduduk."), error


async def test_a_verification_spends_each_named_records_guess_budget(guarded: Regency) -> None:
    """Each resident a verification names is one guess per value, against Dukcapil's
    budget (match_guesses, 3 by default): a fourth kecamatan guessed for the same
    residents is refused whole, and nothing of it is answered."""
    kecamatan = sorted({p["kecamatan"] for p in PEOPLE if p["kecamatan"] is not None})
    assert len(kecamatan) >= 4
    for i, k in enumerate(kecamatan[:4]):
        body = await ask(guarded.hub, "user:m2", FIRST_100, {"where": {"penduduk": {"kecamatan": {"eq": k}}}})
        if i < 3:
            assert "errors" not in body, body["errors"]
            assert body["data"]["dinsos"]["penerimaBansos"]["totalCount"] == sum(
                1 for r in RECIPIENTS if any(p["nik"] == r["nik"] and p["kecamatan"] == k for p in PEOPLE)
            )
        else:
            error = error_of(body, "dinsos", "penerimaBansos")
            assert error["extensions"]["code"] == "MATCH_LIMIT", error
            assert "dukcapil.penduduk.kecamatan" in error["message"]


async def test_the_records_a_verification_names_count_against_the_request(tmp_path: Path) -> None:
    """300 recipients name 209 NIKs: past a limit of 100 records per request the
    field is refused, before Dukcapil is asked."""
    databases = await load_regency(tmp_path, PEOPLE, RECIPIENTS)
    write_rules(tmp_path / "policies", RULES)
    hub, client = await start_hub(tmp_path, match_records_per_request=100)
    try:
        body = await ask(hub, "user:m", FIRST_100, {"where": DEAD})
        error = error_of(body, "dinsos", "penerimaBansos")
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "at most 100 records" in error["message"]
        pkh_2024 = {"program": {"eq": "PKH"}, "tahun": {"eq": 2024}, **DEAD}  # 45 named
        body = await ask(hub, "user:m", FIRST_100, {"where": pkh_2024})
        assert "errors" not in body, body["errors"]
    finally:
        await client.aclose()
        await hub.close()
        for db in databases:
            await db.drop()


async def test_a_verification_needs_the_relationship_to_name_one_record_per_row(guarded: Regency) -> None:
    """From residents to recipients the join reaches the recipients' nik, not their key:
    a resident names several recipients, so a match-only program is not verified."""
    query, opd, field, _ = READS["residents"]
    where = {"penerimaBansos": {"some": {"program": {"eq": "PKH"}}}}
    error = error_of(await ask(guarded.hub, "user:mr", query, {"where": where, "after": None}), opd, field)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["object"] == "dinsos.penerima_bansos.nik" and "not the key" in error["message"]


@pytest.mark.parametrize("subject", ["user:x", "user:m"])
async def test_existence_needs_only_match_on_the_join_fields(
    guarded: Regency, oracle: sqlite3.Connection, subject: str
) -> None:
    keys, total = await every_page(guarded.hub, subject, "recipients", UNKNOWN)
    assert keys == sql_keys(oracle, "recipients", f"NOT {KNOWN}") and total == len(keys) > 0
    body = await ask(guarded.hub, subject, COUNT_BY_PROGRAM, {"where": UNKNOWN})
    assert "errors" not in body, body["errors"]
    assert all(g["perturbed"] for g in body["data"]["dinsos"]["penerimaBansosAggregate"])


async def test_a_related_value_the_caller_may_read_is_compared(
    guarded: Regency, oracle: sqlite3.Connection
) -> None:
    keys, total = await every_page(guarded.hub, "user:r", "recipients", DEAD)
    assert keys == sql_keys(oracle, "recipients", ALIVE.format(0)) and total == len(keys) > 0


async def test_a_cursor_pages_on_only_under_its_own_relationship_filter(guarded: Regency) -> None:
    query, opd, field, _ = READS["residents"]
    some: dict[str, Any] = {"penerimaBansos": {"some": {}}}
    body = await ask(guarded.hub, "user:tester", query, {"where": some, "after": None})
    cursor = body["data"][opd][field]["pageInfo"]["endCursor"]
    assert body["data"][opd][field]["pageInfo"]["hasNextPage"]
    other = {"penerimaBansos": {"some": {"program": {"eq": "PKH"}}}}
    error = error_of(
        await ask(guarded.hub, "user:tester", query, {"where": other, "after": cursor}), opd, field
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_caller_with_no_right_on_the_related_dataset(guarded: Regency) -> None:
    """An authenticated caller's schema has every field, the relationship filter
    included (the policy decides per request: refused above); the public schema only
    what the public may use, so no `penduduk` filter at all."""
    where_fields = '{ __type(name: "DinsosPenerimaBansosWhere") { inputFields { name } } }'
    body = await ask(guarded.hub, "user:nobody", where_fields)
    assert "penduduk" in {f["name"] for f in body["data"]["__type"]["inputFields"]}
    public = http_client(guarded.hub)
    try:
        fields = (await public.post("/public/graphql", json={"query": where_fields})).json()
        r = await public.post("/public/graphql", json={"query": FIRST_100, "variables": {"where": UNKNOWN}})
    finally:
        await public.aclose()
    names = {f["name"] for f in fields["data"]["__type"]["inputFields"]}
    assert "program" in names and "penduduk" not in names
    assert r.status_code in (200, 400) and "data" not in r.json(), r.text
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("subject", "exact"),
    [
        ("user:tester", True),
        ("user:r2", True),
        ("user:r", False),
        ("user:counter", False),
        ("user:counts", False),
    ],
    ids=[
        "everything",
        "reads every field used",
        "only matches the join field",
        "aggregates only",
        "counts every field",
    ],
)
async def test_an_aggregate_is_exact_only_for_whoever_may_read_every_field_it_uses(
    guarded: Regency, oracle: sqlite3.Connection, subject: str, exact: bool
) -> None:
    """Exact counts for whoever may read every field used, the related ones included;
    otherwise each count is the one the cell key publishes for the group's rows."""
    body = await ask(guarded.hub, subject, COUNT_BY_PROGRAM, {"where": DEAD})
    assert "errors" not in body, body["errors"]
    got = {
        g["group"]["program"]: (g["count"], g["perturbed"])
        for g in body["data"]["dinsos"]["penerimaBansosAggregate"]
    }
    true = sql_groups(oracle, "recipients", "program", ALIVE.format(0))
    if exact:
        assert got == {k: (n, False) for k, n in true.items()}
        return
    ds = guarded.hub.catalog.dataset("dinsos.penerima_bansos")
    ids = set(sql_keys(oracle, "recipients", ALIVE.format(0)))
    published = {
        k: published_count(
            DISCLOSURE_KEY, ds, [r for r in RECIPIENTS if r["id"] in ids and r["program"] == k]
        )
        for k in true
    }
    assert got == {k: (n, True) for k, n in published.items() if n}
    assert published != true  # the noise shows in these groups


async def test_a_caller_who_may_aggregate_every_related_field_counts_through_the_relationship(
    guarded: Regency,
) -> None:
    """user:counts may join on the NIKs and aggregate the status DEAD compares, compare
    none of them: its count uses the status as an own field of the aggregate's `where`
    (perturbed, above), verifies no record, and says `join` and `aggregate` in its audit
    record. It reads nothing through them, counts no NIK, and a field it may not
    aggregate is refused, named."""
    body = await ask(guarded.hub, "user:counts", COUNT_BY_PROGRAM, {"where": DEAD})
    assert "errors" not in body, body["errors"]
    record = await last_record(guarded.hub, "user:counts")
    assert record.records == 0  # nothing verified: the cells are perturbed instead
    assert set(json.loads(record.pairs)) == {
        "dinsos.penerima_bansos.program:aggregate",
        "dinsos.penerima_bansos.nik:join",
        "dukcapil.penduduk.nik:join",
        "dukcapil.penduduk.status_hidup:aggregate",
    }
    error = await refusal(guarded.hub, "user:counts", DEAD, "read")
    assert error["extensions"]["code"] == "FORBIDDEN", error
    nik = guarded.recipients[0]["nik"]
    for where in ({"nik": {"eq": nik}}, {"penduduk": {"nik": {"eq": nik}}}):  # join is no comparison
        error = await refusal(guarded.hub, "user:counts", where, "aggregate")
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert error["extensions"]["object"].endswith(".nik"), error
    children = {"penduduk": {"statusHidup": {"eq": False}, "anak": {"gte": 2}}}
    error = await refusal(guarded.hub, "user:counts", children, "aggregate")
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert error["extensions"]["object"] == "dukcapil.penduduk.anak"
    assert "may not filter on or aggregate dukcapil.penduduk.anak" in error["message"]


async def test_an_aggregates_relationship_filter_is_all_compared_or_all_counted(guarded: Regency) -> None:
    """user:mixed may join on the NIKs and compare the status: neither way covers
    every field DEAD uses (a read's needs `match` on the NIKs, a count's `aggregate` on
    the status), so the count is refused, naming a field it may not compare."""
    error = await refusal(guarded.hub, "user:mixed", DEAD, "aggregate")
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert error["extensions"]["object"] == "dinsos.penerima_bansos.nik", error
    assert "all as a read would, or all as counted" in error["message"]


@pytest.mark.parametrize(
    ("dataset", "where"),
    [("recipients", {"penduduk": {"exists": True}}), ("residents", {"penerimaBansos": {"some": {}}})],
    ids=["own join field", "related join field"],
)
async def test_a_relationship_filter_needs_match_on_both_join_fields(
    guarded: Regency, dataset: str, where: dict[str, Any]
) -> None:
    """user:residents may read every field used but recipients' NIK, the join field
    on the recipients' side, whichever side is filtered."""
    query, opd, field, _ = READS[dataset]
    query = query.replace("nodes { id }", "nodes { program }")
    error = error_of(
        await ask(guarded.hub, "user:residents", query, {"where": where, "after": None}), opd, field
    )
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["object"] == "dinsos.penerima_bansos.nik"


async def audited_pairs(hub: Hub, query: str, variables: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The (object:action) pairs and datasets of the one record `query` leaves."""
    before = [r.seq async for r in records(hub.store)]
    body = await ask(hub, "user:audited", query, variables)
    assert "errors" not in body, body["errors"]
    (record,) = [r async for r in records(hub.store, after=max(before, default=0))]
    assert record.subject == "user:audited" and record.outcome == "ok"
    return set(json.loads(record.pairs)), set(json.loads(record.datasets))


async def test_the_audit_record_lists_the_related_fields(guarded: Regency) -> None:
    where = {"penduduk": {"statusHidup": {"eq": False}, "anak": {"gte": 2}}}
    pairs, datasets = await audited_pairs(guarded.hub, FIRST_100, {"where": where})
    assert {p for p in pairs if p.startswith("dukcapil.")} == {
        "dukcapil.penduduk.nik:match",
        "dukcapil.penduduk.status_hidup:match",
        "dukcapil.penduduk.anak:read",
    }
    assert "dinsos.penerima_bansos.nik:match" in pairs
    assert datasets == {"dinsos.penerima_bansos", "dukcapil.penduduk"}
    # `none` negates what it compares: read, as `neq` is
    none = {"penerimaBansos": {"none": {"program": {"eq": "PKH"}}}}
    pairs, datasets = await audited_pairs(guarded.hub, RESIDENTS_PAGE, {"where": none, "after": None})
    assert {p for p in pairs if p.startswith("dinsos.")} == {
        "dinsos.penerima_bansos.nik:match",
        "dinsos.penerima_bansos.program:read",
    }
    assert datasets == {"dinsos.penerima_bansos", "dukcapil.penduduk"}
    pairs, _ = await audited_pairs(guarded.hub, COUNT_BY_PROGRAM, {"where": DEAD})
    assert {"dukcapil.penduduk.nik:match", "dukcapil.penduduk.status_hidup:match"} <= pairs


# ----- 5. bounds -----

MAX_ROWS = 50  # of 400 residents (37 dead) and 300 recipients (30 with an unknown NIK)


@pytest_asyncio.fixture(scope="module")
async def bounded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Regency]:
    """The regency with both sources' max_rows at MAX_ROWS."""
    tmp = tmp_path_factory.mktemp("bounded")
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS)
    for opd, dataset, name, db in (
        (DUKCAPIL, penduduk(), "penduduk", databases[0]),
        (DINSOS, penerima_bansos(), "penerima_bansos", databases[1]),
    ):
        write_opd(
            tmp / "schema", opd_file(opd, {"main": sql_source(db.url, max_rows=MAX_ROWS)}, {name: dataset})
        )
    hub, client = await start_hub(tmp)
    regency = Regency("sqlite", hub, client, PEOPLE, RECIPIENTS, databases)
    yield regency
    await regency.close()


@pytest.mark.parametrize(
    ("dataset", "where", "condition"),
    [
        ("recipients", DEAD, ALIVE.format(0)),  # 37 residents: the target first
        ("recipients", {"id": {"lte": 40}, **UNKNOWN}, f"b.id <= 40 AND NOT {KNOWN}"),  # 40 rows first
        (
            "recipients",
            {"id": {"lte": MAX_ROWS}, "penduduk": {"statusHidup": {"eq": True}}},
            f"b.id <= {MAX_ROWS} AND {ALIVE.format(1)}",
        ),  # exactly max_rows rows, far more related rows
    ],
    ids=["few related rows", "few rows, exists false", "max_rows rows, many related"],
)
async def test_within_max_rows_on_one_side_a_filter_is_answered(
    bounded: Regency, oracle: sqlite3.Connection, dataset: str, where: dict[str, Any], condition: str
) -> None:
    keys, total = await every_page(bounded.hub, "user:tester", dataset, where)
    assert keys == sql_keys(oracle, dataset, condition) and total == len(keys) > 0


BEYOND = [
    ("recipients", {"penduduk": {"statusHidup": {"eq": True}}}, "penduduk"),
    ("recipients", UNKNOWN, "penduduk"),
    ("recipients", {"id": {"lte": MAX_ROWS + 1}, "penduduk": {"statusHidup": {"eq": True}}}, "penduduk"),
    ("residents", {"penerimaBansos": {"some": {"program": {"eq": "PKH"}}}}, "penerima_?[bB]ansos"),
    ("residents", {"penerimaBansos": {"none": {}}}, "penerima_?[bB]ansos"),
]


@pytest.mark.parametrize(("dataset", "where", "relationship"), BEYOND, ids=[str(b[1]) for b in BEYOND])
async def test_beyond_max_rows_on_both_sides_the_field_is_too_complex(
    bounded: Regency, dataset: str, where: dict[str, Any], relationship: str
) -> None:
    query, opd, field, _ = READS[dataset]
    error = error_of(
        await ask(bounded.hub, "user:tester", query, {"where": where, "after": None}), opd, field
    )
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert re.search(rf"relationship {relationship}\b", error["message"]), error["message"]
    type_, opd, field = AGGREGATE_TYPES[dataset]
    aggregate = AGGREGATE.format(type=type_, opd=opd, field=field, by=GROUPED_BY[dataset])
    error = error_of(
        await ask(bounded.hub, "user:tester", aggregate, {"where": where}), opd, f"{field}Aggregate"
    )
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert re.search(rf"relationship {relationship}\b", error["message"]), error["message"]


THREE_LEVELS = [
    ("residents", {"penerimaBansos": {"some": {"penduduk": {"penerimaBansos": {"some": {}}}}}}),
    ("recipients", {"penduduk": {"penerimaBansos": {"every": {"penduduk": {"exists": True}}}}}),
    (
        "recipients",
        {
            "or": [
                {"id": {"eq": 1}},
                {"not": {"penduduk": {"penerimaBansos": {"none": {"penduduk": {"anak": {"eq": 1}}}}}}},
            ]
        },
    ),
]


@pytest.mark.parametrize(("dataset", "where"), THREE_LEVELS, ids=["some", "every", "or-not-none"])
async def test_three_levels_of_relationship_filters_are_too_complex(
    guarded: Regency, dataset: str, where: dict[str, Any]
) -> None:
    query, opd, field, _ = READS[dataset]
    error = error_of(
        await ask(guarded.hub, "user:tester", query, {"where": where, "after": None}), opd, field
    )
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    type_, opd, field = AGGREGATE_TYPES[dataset]
    aggregate = AGGREGATE.format(type=type_, opd=opd, field=field, by=GROUPED_BY[dataset])
    error = error_of(
        await ask(guarded.hub, "user:tester", aggregate, {"where": where}), opd, f"{field}Aggregate"
    )
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
