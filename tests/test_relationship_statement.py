"""Relationship filters between two datasets of ONE SQL source are answered in one
statement: the hub hands the `Exists` to the SQL adapter (hub/semijoin.py `_one_statement`,
`_inline`), which writes it as a correlated EXISTS (adapters/sql_table.py `Table.where`).

BPKAD's budget lines (`belanja`) name a standard unit price (`ssh`) by its code: `belanja.ssh`
is to-one (kode_ssh -> kode), `ssh.belanja` to-many (kode -> kode_ssh). Both tables live in
one database, under one `sources:` entry. Some lines name no price, some a price that is not
there, and some prices have no lines.

1. Every filter's rows, paged through to the end with a small prime `first`, and its
   totalCount, equal those of SQL written by hand (EXISTS / NOT EXISTS over an in-memory
   SQLite copy of the rows), on SQLite, PostgreSQL and MariaDB; so does an aggregate's
   groups.
2. Each such request costs the source exactly one query (two with totalCount: the page and
   the count), read from the hub's /metrics (`hub_source_requests_total{source,outcome}`);
   the one query is one SELECT with one EXISTS per relationship the filter names. Three
   levels are refused before the source is asked.
3. The same rows under two `sources:` entries (the same SQLite file) are answered the same,
   by semi-joins: the price source is asked too.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.http.hub import Hub
from tests.support.catalogs import Spec, opd_file, sql_source, write_opd
from tests.support.databases import BACKENDS, ScratchDatabase
from tests.support.regency import load, start_hub
from tests.support.statements import statements

# ----- the rows -----

BPKAD = {"id": "bpkad", "name": "Badan Pengelolaan Keuangan dan Aset Daerah"}
URAIAN = ["Belanja ATK", "Belanja Makan Minum", "Belanja Bahan Bakar", "Belanja Cetak", "Belanja Sewa"]
SATUAN = ["buah", "paket", "rim", "liter", "unit"]
PRICES = 50
PRICED = 40  # lines name only the first 40 prices: the last 10 have no lines
LINES = 300


def make_rows(seed: int = 11) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(budget lines, unit prices). Codes are fixed-width, letters and digits only, so that
    every backend's collation orders them as SQLite does."""
    rnd = random.Random(seed)
    prices = [
        {
            "kode": f"SSH{i:04d}",
            "uraian": f"Barang {i}",
            "harga": rnd.randrange(5, 500) * 1000,
            "satuan": rnd.choice(SATUAN),
        }
        for i in range(1, PRICES + 1)
    ]
    lines = []
    for i in range(1, LINES + 1):
        price: dict[str, Any] | None = prices[rnd.randrange(PRICED)]
        if i % 13 == 0:
            kode = None  # names no price
        elif i % 17 == 0:
            kode, price = f"SSH9{i:03d}", None  # names a price that is not there
        else:
            assert price is not None
            kode = price["kode"]
        harga = price["harga"] if price is not None else rnd.randrange(5, 500) * 1000
        lines.append(
            {
                "id": i,
                "uraian": rnd.choice(URAIAN),
                "kode_ssh": kode,
                # mostly the standard price, sometimes 10% above it
                "harga_satuan": harga * 11 // 10 if rnd.random() < 0.2 else harga,
                "volume": rnd.randrange(1, 121),
            }
        )
    return lines, prices


LINES_ROWS, PRICE_ROWS = make_rows()

metadata = sa.MetaData()
BELANJA_TABLE = sa.Table(
    "belanja",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("uraian", sa.String(100)),
    sa.Column("kode_ssh", sa.String(20), nullable=True),
    sa.Column("harga_satuan", sa.BigInteger),
    sa.Column("volume", sa.Integer),
)
SSH_TABLE = sa.Table(
    "ssh",
    metadata,
    sa.Column("kode", sa.String(20), primary_key=True),
    sa.Column("uraian", sa.String(100)),
    sa.Column("harga", sa.BigInteger),
    sa.Column("satuan", sa.String(20)),
)


def belanja(source: str = "main") -> Spec:
    return {
        "source": source,
        "table": "belanja",
        "key": "id",
        "fields": {
            "id": {"type": "integer", "classification": "public"},
            "uraian": {"type": "string", "classification": "public"},
            "kode_ssh": {"type": "string", "classification": "public"},
            "harga_satuan": {"type": "integer", "classification": "internal"},
            "volume": {"type": "integer", "classification": "internal"},
        },
        "relationships": {"ssh": {"to": "bpkad.ssh", "join": {"kode_ssh": "kode"}}},
    }


def ssh(source: str = "main") -> Spec:
    return {
        "source": source,
        "table": "ssh",
        "key": "kode",
        "fields": {
            "kode": {"type": "string", "classification": "public"},
            "uraian": {"type": "string", "classification": "public"},
            "harga": {"type": "integer", "classification": "public"},
            "satuan": {"type": "string", "classification": "public"},
        },
        "relationships": {"belanja": {"to": "bpkad.belanja", "join": {"kode": "kode_ssh"}, "many": True}},
    }


# ----- the cases -----

PAGE = 17  # small and prime: pages end anywhere

LINES_PAGE = """query Page($where: BpkadBelanjaWhere, $after: String, $first: Int) {
  bpkad { belanja(first: $first, after: $after, where: $where) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor } nodes { id } } } }"""
PRICES_PAGE = """query Page($where: BpkadSshWhere, $after: String, $first: Int) {
  bpkad { ssh(first: $first, after: $after, where: $where) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor } nodes { kode } } } }"""
# (query, GraphQL field, key field, oracle table, alias, key column)
READS = {
    "belanja": (LINES_PAGE, "belanja", "id", "belanja", "b", "id"),
    "ssh": (PRICES_PAGE, "ssh", "kode", "ssh", "s", "kode"),
}


def price_of(condition: str = "", alias: str = "s", line: str = "b") -> str:
    """EXISTS a price of line `line` (alias) for which `condition` (on `alias`) holds."""
    extra = f" AND {condition}" if condition else ""
    return f"EXISTS (SELECT 1 FROM ssh {alias} WHERE {alias}.kode = {line}.kode_ssh{extra})"


def line_of(condition: str = "", alias: str = "b", price: str = "s") -> str:
    """EXISTS a line of price `price` (alias) for which `condition` (on `alias`) holds."""
    extra = f" AND {condition}" if condition else ""
    return f"EXISTS (SELECT 1 FROM belanja {alias} WHERE {alias}.kode_ssh = {price}.kode{extra})"


# (id, dataset, where, the SQL condition the rows must satisfy)
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("to-one range", "belanja", {"ssh": {"harga": {"gt": 200_000}}}, price_of("s.harga > 200000")),
    ("to-one exists false", "belanja", {"ssh": {"exists": False}}, "NOT " + price_of()),
    ("to-one exists true", "belanja", {"ssh": {"exists": True}}, price_of()),
    (
        "not of a to-one eq",
        "belanja",
        {"not": {"ssh": {"satuan": {"eq": "paket"}}}},
        "NOT " + price_of("s.satuan = 'paket'"),
    ),
    (
        "or of a to-one in and an own range",
        "belanja",
        {"or": [{"ssh": {"satuan": {"in": ["rim", "liter"]}}}, {"volume": {"gte": 100}}]},
        price_of("s.satuan IN ('rim', 'liter')") + " OR b.volume >= 100",
    ),
    (
        "and of own fields and a to-one range",
        "belanja",
        {
            "and": [
                {"uraian": {"in": ["Belanja ATK", "Belanja Cetak"]}},
                {"ssh": {"harga": {"lte": 250_000}}},
                {"not": {"volume": {"lt": 20}}},
            ]
        },
        "b.uraian IN ('Belanja ATK', 'Belanja Cetak') AND "
        + price_of("s.harga <= 250000")
        + " AND NOT (b.volume < 20)",
    ),
    (
        "to-one with own fields beside it",
        "belanja",
        {"ssh": {"exists": True, "satuan": {"eq": "buah"}}, "hargaSatuan": {"gt": 100_000}},
        price_of("s.satuan = 'buah'") + " AND b.harga_satuan > 100000",
    ),
    (
        "to-many some",
        "ssh",
        {"belanja": {"some": {"volume": {"gte": 100}}}},
        line_of("b.volume >= 100"),
    ),
    ("to-many none {}", "ssh", {"belanja": {"none": {}}}, "NOT " + line_of()),
    (
        "to-many every",
        "ssh",
        {"belanja": {"every": {"hargaSatuan": {"lte": 300_000}}}},
        # every: no line for which it does not hold (true where there is none)
        "NOT " + line_of("(b.harga_satuan <= 300000) IS NOT TRUE"),
    ),
    (
        "to-many some and none together, with an own field",
        "ssh",
        {
            "belanja": {"some": {"uraian": {"eq": "Belanja ATK"}}, "none": {"volume": {"lt": 10}}},
            "satuan": {"neq": "unit"},
        },
        line_of("b.uraian = 'Belanja ATK'")
        + " AND NOT "
        + line_of("b.volume < 10")
        + " AND s.satuan <> 'unit'",
    ),
    (
        "two levels: lines whose price has a large line",
        "belanja",
        {"ssh": {"belanja": {"some": {"volume": {"gte": 110}}}}},
        price_of(line_of("c.volume >= 110", alias="c", price="s")),
    ),
    (
        "two levels under not and or",
        "belanja",
        {
            "or": [
                {"id": {"lte": 30}},
                {"not": {"ssh": {"belanja": {"none": {"uraian": {"eq": "Belanja Sewa"}}}}}},
            ]
        },
        "b.id <= 30 OR NOT " + price_of("NOT " + line_of("c.uraian = 'Belanja Sewa'", alias="c", price="s")),
    ),
    (
        "two levels under every: prices whose every line names a price",
        "ssh",
        {"belanja": {"every": {"ssh": {"harga": {"gte": 100_000}}}}},
        "NOT " + line_of("NOT " + price_of("t.harga >= 100000", alias="t", line="b")),
    ),
]


# ----- the oracle -----


@pytest.fixture(scope="module")
def oracle() -> Iterator[sqlite3.Connection]:
    """The same rows in one in-memory SQLite database, for the SQL written above."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE belanja (id INTEGER PRIMARY KEY, uraian TEXT, kode_ssh TEXT,"
        " harga_satuan INTEGER, volume INTEGER)"
    )
    db.execute("CREATE TABLE ssh (kode TEXT PRIMARY KEY, uraian TEXT, harga INTEGER, satuan TEXT)")
    db.executemany("INSERT INTO belanja VALUES (:id, :uraian, :kode_ssh, :harga_satuan, :volume)", LINES_ROWS)
    db.executemany("INSERT INTO ssh VALUES (:kode, :uraian, :harga, :satuan)", PRICE_ROWS)
    yield db
    db.close()


def sql_keys(db: sqlite3.Connection, dataset: str, condition: str) -> list[Any]:
    *_, table, alias, key = READS[dataset]
    query = f"SELECT {alias}.{key} FROM {table} AS {alias} WHERE {condition} ORDER BY {alias}.{key}"
    return [row[0] for row in db.execute(query)]


def test_the_rows_hold_the_awkward_cases(oracle: sqlite3.Connection) -> None:
    """Lines without a price code, lines naming a price that is not there, prices without
    lines: each filter below meets them."""
    assert len(sql_keys(oracle, "belanja", "b.kode_ssh IS NULL")) > 10
    assert len(sql_keys(oracle, "belanja", "b.kode_ssh IS NOT NULL AND NOT " + price_of())) > 10
    assert len(sql_keys(oracle, "ssh", "NOT " + line_of())) >= PRICES - PRICED


def test_the_cases_select_some_rows_but_not_all(oracle: sqlite3.Connection) -> None:
    for name, dataset, _, condition in CASES:
        n = len(sql_keys(oracle, dataset, condition))
        assert 0 < n < len(sql_keys(oracle, dataset, "1 = 1")), name


# ----- asking the hub, and counting what it asks its sources -----

SOURCE_REQUESTS = re.compile(r"^hub_source_requests_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def source_requests(metrics: str) -> Counter[tuple[str, str]]:
    """hub_source_requests_total by (source, outcome)."""
    out: Counter[tuple[str, str]] = Counter()
    for labels, value in SOURCE_REQUESTS.findall(metrics):
        named = dict(LABEL.findall(labels))
        out[(named["source"], named["outcome"])] = int(float(value))
    return out


@dataclass
class Served:
    kind: str
    hub: Hub
    client: httpx.AsyncClient  # user:tester's
    databases: list[ScratchDatabase] = field(default_factory=list)

    async def counted(self, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
        """The body of `query`, and the source calls it made, by source (every one `ok`)."""
        before = source_requests((await self.client.get("/metrics")).text)
        r = await self.client.post("/graphql", json={"query": query, "variables": variables})
        after = source_requests((await self.client.get("/metrics")).text)
        assert r.status_code == 200, r.text
        calls = after - before
        assert {outcome for _, outcome in calls} <= {"ok"}, calls
        per_source: Counter[str] = Counter()
        for (source, _), n in calls.items():
            per_source[source] += n
        body: dict[str, Any] = r.json()
        return body, per_source

    async def every_page(
        self, dataset: str, where: dict[str, Any], page_cost: dict[str, int] | None = None
    ) -> tuple[list[Any], int, list[Counter[str]]]:
        """Every row key `where` selects, in key order, following endCursor to the end; the
        totalCount (the same on every page); and what each page cost the sources."""
        query, gql_field, key, *_ = READS[dataset]
        keys: list[Any] = []
        totals: set[int] = set()
        costs: list[Counter[str]] = []
        after = None
        for _ in range(LINES // PAGE + 2):
            body, cost = await self.counted(query, {"where": where, "after": after, "first": PAGE})
            assert "errors" not in body, body["errors"]
            costs.append(cost)
            page = body["data"]["bpkad"][gql_field]
            totals.add(page["totalCount"])
            keys += [n[key] for n in page["nodes"]]
            assert len(page["edges"]) == len(page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                assert len(totals) == 1, totals
                return keys, totals.pop(), costs
            assert len(page["nodes"]) == PAGE
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
            after = page["pageInfo"]["endCursor"]
        raise AssertionError(f"{dataset} {where}: more pages than rows")

    def statements(self) -> AbstractContextManager[list[str]]:
        """The text of each statement the one source receives while inside."""
        return statements(self.hub, "bpkad.belanja")

    async def close(self) -> None:
        await self.client.aclose()
        await self.hub.close()
        for db in self.databases:
            await db.drop()


async def serve(tmp: Path, kind: str, *, price_source: str = "main") -> Served:
    """Both tables in one scratch database on `kind`, BPKAD's catalog over it, and a hub
    (user:tester may do anything). With `price_source` other than main, the prices are
    served by a second `sources:` entry over the same database."""
    db = await ScratchDatabase(kind, tmp).create()
    try:
        await load(db.url, BELANJA_TABLE, LINES_ROWS)
        await load(db.url, SSH_TABLE, PRICE_ROWS)
        sources = {"main": sql_source(db.url)}
        if price_source != "main":
            sources[price_source] = sql_source(db.url)
        datasets = {"belanja": belanja(), "ssh": ssh(price_source)}
        write_opd(tmp / "schema", opd_file(BPKAD, sources, datasets))
        hub, client = await start_hub(tmp)
    except BaseException:
        await db.drop()
        raise
    return Served(kind, hub, client, [db])


@pytest_asyncio.fixture(scope="module", params=BACKENDS)
async def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    s = await serve(tmp_path_factory.mktemp(f"bpkad-{request.param}"), request.param)
    yield s
    await s.close()


ONE_SOURCE = "bpkad.main"

# ----- 1. the answers equal the oracle's, each page in one statement (two with the count) -----


@pytest.mark.parametrize(("dataset", "where", "condition"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_same_source_relationship_filter_selects_the_rows_sql_does(
    served: Served, oracle: sqlite3.Connection, dataset: str, where: dict[str, Any], condition: str
) -> None:
    want = sql_keys(oracle, dataset, condition)
    keys, total, costs = await served.every_page(dataset, where)
    assert keys == want
    assert total == len(want)
    # every page: one statement for the page, one for totalCount, nothing else
    assert costs == [Counter({ONE_SOURCE: 2})] * len(costs)


AGGREGATE = """query Groups($where: BpkadBelanjaAggregateWhere) {
  bpkad { belanjaAggregate(groupBy: [uraian], where: $where) { group { uraian } count perturbed } } }"""
# (id, where, SQL condition)
AGGREGATES = [
    (
        "to-one eq or exists false",
        {"or": [{"ssh": {"satuan": {"eq": "paket"}}}, {"ssh": {"exists": False}}]},
        price_of("s.satuan = 'paket'") + " OR NOT " + price_of(),
    ),
    (
        "two levels and an own range",
        {"ssh": {"belanja": {"none": {"volume": {"gt": 115}}}}, "volume": {"gte": 30}},
        price_of("NOT " + line_of("c.volume > 115", alias="c", price="s")) + " AND b.volume >= 30",
    ),
]


@pytest.mark.parametrize(("where", "condition"), [a[1:] for a in AGGREGATES], ids=[a[0] for a in AGGREGATES])
async def test_an_aggregate_counts_what_sql_does_in_one_statement(
    served: Served, oracle: sqlite3.Connection, where: dict[str, Any], condition: str
) -> None:
    body, cost = await served.counted(AGGREGATE, {"where": where})
    assert "errors" not in body, body["errors"]
    groups = body["data"]["bpkad"]["belanjaAggregate"]
    want = dict(
        oracle.execute(f"SELECT b.uraian, count(*) FROM belanja AS b WHERE {condition} GROUP BY b.uraian")
    )
    assert {g["group"]["uraian"]: g["count"] for g in groups} == want
    assert len(groups) > 1 and not any(g["perturbed"] for g in groups)
    assert cost == Counter({ONE_SOURCE: 1})


# ----- 2. one statement per page, by form -----

NO_TOTAL = {dataset: query.replace("totalCount ", "") for dataset, (query, *_) in READS.items()}
ONLY_TOTAL = {
    "belanja": "query($where: BpkadBelanjaWhere) { bpkad { belanja(where: $where) { totalCount } } }",
    "ssh": "query($where: BpkadSshWhere) { bpkad { ssh(where: $where) { totalCount } } }",
}
STATEMENT_FORMS = [
    c for c in CASES if c[0].startswith(("to-one range", "to-one exists false", "to-many"))
] + [c for c in CASES if c[0].startswith("two levels")]


@pytest.mark.parametrize(
    ("dataset", "where", "condition"),
    [c[1:] for c in STATEMENT_FORMS],
    ids=[c[0] for c in STATEMENT_FORMS],
)
async def test_a_page_costs_one_statement_and_the_count_one_more(
    served: Served, oracle: sqlite3.Connection, dataset: str, where: dict[str, Any], condition: str
) -> None:
    want = sql_keys(oracle, dataset, condition)
    _, gql_field, key, *_ = READS[dataset]
    # the first page and the next, without totalCount: one statement each
    after = None
    for start in (0, PAGE):
        with served.statements() as statements:
            body, cost = await served.counted(
                NO_TOTAL[dataset], {"where": where, "after": after, "first": PAGE}
            )
        # one SELECT, with one (NOT) EXISTS per relationship the filter names
        (statement,) = statements
        assert statement.lstrip().upper().startswith("SELECT"), statement
        assert statement.upper().count("EXISTS") == condition.count("EXISTS"), statement
        assert "errors" not in body, body["errors"]
        page = body["data"]["bpkad"][gql_field]
        assert [n[key] for n in page["nodes"]] == want[start : start + PAGE]
        assert page["pageInfo"]["hasNextPage"] == (len(want) > start + PAGE)
        assert cost == Counter({ONE_SOURCE: 1}), cost
        after = page["pageInfo"]["endCursor"]
    # with totalCount: the page and the count
    body, cost = await served.counted(READS[dataset][0], {"where": where, "after": None, "first": PAGE})
    assert "errors" not in body, body["errors"]
    assert body["data"]["bpkad"][gql_field]["totalCount"] == len(want)
    assert cost == Counter({ONE_SOURCE: 2}), cost
    # totalCount alone: the count
    body, cost = await served.counted(ONLY_TOTAL[dataset], {"where": where})
    assert "errors" not in body, body["errors"]
    assert body["data"]["bpkad"][gql_field]["totalCount"] == len(want)
    assert cost == Counter({ONE_SOURCE: 1}), cost


THREE_LEVELS = [
    ("belanja", {"ssh": {"belanja": {"some": {"ssh": {"exists": True}}}}}),
    ("ssh", {"belanja": {"every": {"ssh": {"belanja": {"none": {}}}}}}),
]


@pytest.mark.parametrize(("dataset", "where"), THREE_LEVELS, ids=["some", "every"])
async def test_three_levels_are_too_complex_before_the_source_is_asked(
    served: Served, dataset: str, where: dict[str, Any]
) -> None:
    query, gql_field, *_ = READS[dataset]
    body, cost = await served.counted(query, {"where": where, "after": None, "first": PAGE})
    assert body["data"] is None or body["data"]["bpkad"][gql_field] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert cost == Counter(), cost


# ----- 3. contrast: the prices under a source of their own -----

PRICE_SOURCE = "bpkad.harga"


@pytest_asyncio.fixture(scope="module")
async def two_sources(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """The same SQLite database, the prices served by a second `sources:` entry (`harga`)."""
    s = await serve(tmp_path_factory.mktemp("bpkad-two-sources"), "sqlite", price_source="harga")
    yield s
    await s.close()


CONTRASTS = [
    c for c in CASES if c[0] in ("to-one range", "to-one exists false", "to-many some", "to-many every")
]


@pytest.mark.parametrize(
    ("dataset", "where", "condition"), [c[1:] for c in CONTRASTS], ids=[c[0] for c in CONTRASTS]
)
async def test_across_two_sources_the_same_filter_asks_both(
    two_sources: Served, oracle: sqlite3.Connection, dataset: str, where: dict[str, Any], condition: str
) -> None:
    """Answered the same, by semi-joins: each page asks the other source too, or the
    filtered one more than once (the same-source page costs the filtered source 2)."""
    want = sql_keys(oracle, dataset, condition)
    keys, total, costs = await two_sources.every_page(dataset, where)
    assert keys == want and total == len(want)
    filtered = ONE_SOURCE if dataset == "belanja" else PRICE_SOURCE
    for cost in costs:
        assert set(cost) == {ONE_SOURCE, PRICE_SOURCE}, cost
        assert sum(cost.values()) > 2 and cost[filtered] >= 2, cost
