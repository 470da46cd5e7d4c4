"""Comparisons of two fields in `where` (hub/gql/translate.py `_field_comparison`):
`{capaian: {gteField: "target"}}` compares a row's field with another of the same row,
`{hargaSatuan: {gtField: "ssh.harga"}}` with a field of the row a to-one relationship
leads to (`eqField`, `neqField`, `ltField`, `lteField`, `gtField`, `gteField`). Like SQL's
`a <op> b` (a NULL on either side: false), except `neqField`, which holds when either
side is NULL; the related form holds only where there is a related row.

The oracle is SQL written by hand over in-memory SQLite copies of the same rows.

1. Same row: BPKAD's activities (`kegiatan`: integer, float, decimal, date, string and
   boolean pairs, with NULLs and ties) on SQLite, PostgreSQL and MariaDB (one hub per
   backend), every page to the end and totalCount; also in an aggregate's where.
2. Related: recipients compared with their resident across two sources (residents on
   PostgreSQL, recipients on MariaDB; and two SQLite sources): the hub pairs the rows
   (hub/semijoin.py `_paired`). In one SQL source (BPKAD's budget lines priced above
   their standard unit price, `belanja.hargaSatuan` vs `ssh.harga`): one statement per
   page (a correlated EXISTS), counted from /metrics.
3. Sources other than SQL databases: a CSV file source (adapters/files.py loads it into an
   in-memory SQLite database and answers in SQL), and a REST source (whose rows the
   in-memory evaluator, adapters/memory.py `matches`, filters).
4. Errors: unknown field, unknown relationship, a to-many path, a type mismatch:
   BAD_USER_INPUT naming it; a malformed operand (`gt: {field: ...}` included) is
   BAD_USER_INPUT, never a server error; a caller who may not read one of the two
   fields (or compare the join fields): FORBIDDEN naming it.
5. Variables: one query, `{capaian: {gte: $v, gteField: $f}}`, given either variable.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.http.hub import Hub
from tests.support.catalogs import DUKCAPIL, Spec, opd_file, penduduk, sql_source, write_opd
from tests.support.databases import BACKENDS, ScratchDatabase
from tests.support.regency import client_for, load, load_regency, make_rows, start_hub
from tests.support.regency import write_policies as write_rules
from tests.support.rest_server import RestServer
from tests.support.servers import serve
from tests.support.statements import statements
from tests.test_relationship_statement import BELANJA_TABLE, BPKAD, SSH_TABLE, belanja, source_requests, ssh


def neq(a: str, b: str) -> str:
    """SQL of the hub's `neq` between two columns: also true where either is NULL."""
    return f"({a} <> {b} OR {a} IS NULL OR {b} IS NULL)"


# ----- the rows -----

PELAKSANA = ["ani", "budi", "citra", "dewi", "eko"]  # lower-case ASCII: every collation orders them alike
KEGIATAN_ROWS_N = 120


def make_kegiatan(seed: int = 5) -> list[dict[str, Any]]:
    """BPKAD's activities: a target and what was achieved (integers), a weight (a float,
    a multiple of 0.25: exact in every float type), a ceiling and the realised spending
    (decimals of two places, on the weight's scale), start and end dates, who carried it
    out and who supervised (strings), paid and checked (booleans). Pairs are often equal
    (ties), and every column has NULLs."""
    rnd = random.Random(seed)
    rows = []
    for i in range(1, KEGIATAN_ROWS_N + 1):
        target = rnd.randrange(0, 11)
        capaian = target if rnd.random() < 0.25 else rnd.randrange(0, 11)
        bobot = float(capaian) if rnd.random() < 0.2 else rnd.randrange(0, 41) / 4
        roll = rnd.random()
        if roll < 0.2:
            pagu = Decimal(bobot).quantize(Decimal("0.01"))
        elif roll < 0.35:
            pagu = Decimal(target).quantize(Decimal("0.01"))
        else:
            pagu = Decimal(rnd.randrange(0, 1001)) / 100
        realisasi = pagu if rnd.random() < 0.25 else Decimal(rnd.randrange(0, 1001)) / 100
        mulai = dt.date(2024, 1, 1) + dt.timedelta(days=rnd.randrange(0, 60))
        selesai = (
            mulai if rnd.random() < 0.2 else dt.date(2024, 1, 1) + dt.timedelta(days=rnd.randrange(0, 90))
        )
        pelaksana = rnd.choice(PELAKSANA)
        pengawas = pelaksana if rnd.random() < 0.3 else rnd.choice(PELAKSANA)
        rows.append(
            {
                "id": i,
                "target": None if i % 11 == 0 else target,
                "capaian": None if i % 7 == 0 else capaian,
                "bobot": None if i % 13 == 0 else bobot,
                "pagu": None if i % 17 == 0 else pagu,
                "realisasi": None if i % 9 == 0 else realisasi,
                "mulai": None if i % 19 == 0 else mulai,
                "selesai": None if i % 8 == 0 else selesai,
                "pelaksana": None if i % 10 == 0 else pelaksana,
                "pengawas": None if i % 12 == 0 else pengawas,
                "lunas": None if i % 14 == 0 else rnd.random() < 0.5,
                "diperiksa": None if i % 15 == 0 else rnd.random() < 0.5,
            }
        )
    return rows


def make_budget(seed: int = 13) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(budget lines, standard unit prices): lines priced at, above, below their standard
    price or at no price (NULL); lines naming no price, or a price that is not there;
    prices without a price (NULL) and prices without lines."""
    rnd = random.Random(seed)
    prices = [
        {
            "kode": f"SSH{i:04d}",
            "uraian": f"Barang {i}",
            "harga": None if i % 11 == 0 else rnd.randrange(5, 500) * 1000,
            "satuan": rnd.choice(["buah", "paket", "rim", "liter", "unit"]),
        }
        for i in range(1, 41)
    ]
    lines = []
    for i in range(1, 201):
        price: dict[str, Any] | None = prices[rnd.randrange(35)]  # the last 5 have no lines
        if i % 13 == 0:
            kode, price = None, None
        elif i % 17 == 0:
            kode, price = f"SSH9{i:03d}", None
        else:
            assert price is not None
            kode = price["kode"]
        standard = price["harga"] if price is not None and price["harga"] is not None else None
        roll = rnd.random()
        if standard is None or roll < 0.1:
            harga = rnd.randrange(5, 500) * 1000
        elif roll < 0.5:
            harga = standard
        elif roll < 0.75:
            harga = standard * 11 // 10
        else:
            harga = standard * 9 // 10
        lines.append(
            {
                "id": i,
                "uraian": rnd.choice(["Belanja ATK", "Belanja Makan Minum", "Belanja Cetak", "Belanja Sewa"]),
                "kode_ssh": kode,
                "harga_satuan": None if i % 19 == 0 else harga,
                "volume": rnd.randrange(1, 121),
            }
        )
    return lines, prices


def make_regency() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The test regency, changed so that grants and balances compare both ways: a third of
    the residents have a small whole balance (near their height, and equal to some
    grants), some none; some grants equal their resident's balance or are below it, some
    have no amount, some name no resident (NULL)."""
    people, recipients = make_rows()
    rnd = random.Random(3)
    for i, p in enumerate(people):
        if i % 3 == 0:
            p["saldo"] = Decimal(rnd.randrange(120, 260))
        if i % 29 == 0:
            p["saldo"] = None
        if i % 13 == 5 and p["kecamatan"] is not None:
            p["nama"] = p["kecamatan"]  # a name that is the resident's kecamatan
    by_nik = {p["nik"]: p for p in people}
    for j, r in enumerate(recipients):
        p = by_nik.get(r["nik"])
        if p is not None and p["saldo"] is not None:
            if j % 4 == 0:
                r["nominal"] = int(p["saldo"])  # equal when the balance is whole, else just below
            elif j % 4 == 1:
                r["nominal"] = rnd.randrange(0, 120_000)
        if j % 11 == 7:
            r["nominal"] = None
        if j % 9 == 4:
            r["nik"] = None
    return people, recipients


KEGIATAN = make_kegiatan()
LINES, PRICES = make_budget()
PEOPLE, RECIPIENTS = make_regency()

metadata = sa.MetaData()
KEGIATAN_TABLE = sa.Table(
    "kegiatan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("target", sa.Integer),
    sa.Column("capaian", sa.Integer),
    sa.Column("bobot", sa.Double),
    sa.Column("pagu", sa.Numeric(12, 2)),
    sa.Column("realisasi", sa.Numeric(12, 2)),
    sa.Column("mulai", sa.Date),
    sa.Column("selesai", sa.Date),
    sa.Column("pelaksana", sa.String(20)),
    sa.Column("pengawas", sa.String(20)),
    sa.Column("lunas", sa.Boolean),
    sa.Column("diperiksa", sa.Boolean),
)
KEGIATAN_TYPES = {
    "id": "integer",
    "target": "integer",
    "capaian": "integer",
    "bobot": "float",
    "pagu": "decimal",
    "realisasi": "decimal",
    "mulai": "date",
    "selesai": "date",
    "pelaksana": "string",
    "pengawas": "string",
    "lunas": "boolean",
    "diperiksa": "boolean",
}


def kegiatan(source: str = "main") -> Spec:
    return {
        "source": source,
        "key": "id",
        "fields": {name: {"type": t, "classification": "internal"} for name, t in KEGIATAN_TYPES.items()},
    }


# ----- the oracle -----


def _sql_value(v: Any) -> Any:
    """As the oracle stores it: decimals as REAL (small, two places), dates as ISO text."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _table(db: sqlite3.Connection, name: str, columns: dict[str, str], rows: list[dict[str, Any]]) -> None:
    db.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    marks = ", ".join("?" for _ in columns)
    db.executemany(
        f"INSERT INTO {name} VALUES ({marks})", [tuple(_sql_value(r[c]) for c in columns) for r in rows]
    )


PEOPLE_COLUMNS = {
    "nik": "TEXT PRIMARY KEY",
    "nama": "TEXT",
    "kecamatan": "TEXT",
    "tanggal_lahir": "TEXT",
    "is_alive": "INTEGER",
    "tinggi": "REAL",
    "saldo": "REAL",
    "anak": "INTEGER",
}


@pytest.fixture(scope="module")
def oracle() -> Iterator[sqlite3.Connection]:
    """Every table of this module in one in-memory SQLite database."""
    db = sqlite3.connect(":memory:")
    sqlite_types = {"integer": "INTEGER", "float": "REAL", "decimal": "REAL", "boolean": "INTEGER"}
    _table(db, "kegiatan", {c: sqlite_types.get(t, "TEXT") for c, t in KEGIATAN_TYPES.items()}, KEGIATAN)
    _table(
        db,
        "belanja",
        {
            "id": "INTEGER",
            "uraian": "TEXT",
            "kode_ssh": "TEXT",
            "harga_satuan": "INTEGER",
            "volume": "INTEGER",
        },
        LINES,
    )
    _table(db, "ssh", {"kode": "TEXT", "uraian": "TEXT", "harga": "INTEGER", "satuan": "TEXT"}, PRICES)
    _table(db, "penduduk", PEOPLE_COLUMNS, PEOPLE)
    _table(
        db,
        "penerima_bansos",
        {"id": "INTEGER", "nik": "TEXT", "program": "TEXT", "nominal": "INTEGER", "tahun": "INTEGER"},
        RECIPIENTS,
    )
    yield db
    db.close()


@dataclass(frozen=True)
class Read:
    """A paged read of one dataset, and its table in the oracle."""

    opd: str
    field: str
    where_type: str
    key: str  # GraphQL name of the key field
    table: str
    alias: str
    column: str  # the key's column

    def query(self, total: bool = True) -> str:
        count = "totalCount " if total else ""
        return f"""query Page($where: {self.where_type}, $after: String, $first: Int) {{
  {self.opd} {{ {self.field}(first: $first, after: $after, where: $where) {{
    {count}pageInfo {{ hasNextPage endCursor }} edges {{ cursor }} nodes {{ {self.key} }} }} }} }}"""

    def keys(self, db: sqlite3.Connection, condition: str) -> list[Any]:
        a = self.alias
        sql = (
            f"SELECT {a}.{self.column} FROM {self.table} AS {a} WHERE {condition} ORDER BY {a}.{self.column}"
        )
        return [row[0] for row in db.execute(sql)]


KEGIATAN_READ = Read("bpkad", "kegiatan", "BpkadKegiatanWhere", "id", "kegiatan", "k", "id")
LINES_READ = Read("bpkad", "belanja", "BpkadBelanjaWhere", "id", "belanja", "b", "id")
RECIPIENTS_READ = Read(
    "dinsos", "penerimaBansos", "DinsosPenerimaBansosWhere", "id", "penerima_bansos", "b", "id"
)
RESIDENTS_READ = Read("dukcapil", "penduduk", "DukcapilPendudukWhere", "nik", "penduduk", "p", "nik")

# ----- asking a hub -----


@dataclass
class Served:
    """A hub over some scratch databases, and a client per subject."""

    hub: Hub
    databases: list[ScratchDatabase] = field(default_factory=list)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def client(self, subject: str) -> httpx.AsyncClient:
        if subject not in self.clients:
            self.clients[subject] = await client_for(self.hub, subject, raise_app_exceptions=False)
        return self.clients[subject]

    async def ask(
        self, query: str, variables: dict[str, Any] | None = None, subject: str = "user:tester"
    ) -> dict[str, Any]:
        """The body: always HTTP 200 (field errors included), never a server error."""
        r = await (await self.client(subject)).post("/graphql", json={"query": query, "variables": variables})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def counted(self, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
        """The body, and the calls it made to each source (every one `ok`)."""
        client = await self.client("user:tester")
        before = source_requests((await client.get("/metrics")).text)
        body = await self.ask(query, variables)
        after = source_requests((await client.get("/metrics")).text)
        calls = after - before
        assert {outcome for _, outcome in calls} <= {"ok"}, calls
        per_source: Counter[str] = Counter()
        for (source, _), n in calls.items():
            per_source[source] += n
        return body, per_source

    async def every_page(
        self, read: Read, where: dict[str, Any], *, subject: str = "user:tester", first: int = 17
    ) -> tuple[list[Any], int]:
        """Every key `where` selects, in key order, following endCursor to the end; and
        the totalCount, the same on every page."""
        keys: list[Any] = []
        totals: set[int] = set()
        after = None
        for _ in range(1000):
            body = await self.ask(read.query(), {"where": where, "after": after, "first": first}, subject)
            assert "errors" not in body, body["errors"]
            page = body["data"][read.opd][read.field]
            totals.add(page["totalCount"])
            keys += [n[read.key] for n in page["nodes"]]
            assert len(page["edges"]) == len(page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                assert len(totals) == 1, totals
                return keys, totals.pop()
            assert len(page["nodes"]) == first
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
            after = page["pageInfo"]["endCursor"]
        raise AssertionError("more pages than rows")

    def statements(self, dataset: str) -> AbstractContextManager[list[str]]:
        """The text of each statement the dataset's SQL source receives while inside."""
        return statements(self.hub, dataset)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        await self.hub.close()
        for db in self.databases:
            await db.drop()


def error_of(body: dict[str, Any], opd: str, field: str) -> dict[str, Any]:
    """The one error of a refused dataset field, which answers null."""
    assert body.get("data") is None or body["data"][opd][field] is None, body
    (error,) = body["errors"]
    assert error["path"] == [opd, field], error
    return error  # type: ignore[no-any-return]


def some_but_not_all(db: sqlite3.Connection, read: Read, condition: str) -> None:
    n, everything = len(read.keys(db, condition)), len(read.keys(db, "1 = 1"))
    assert 0 < n < everything, (condition, n, everything)


# ===== 1. same row, on every backend =====

# (id, where, the SQL condition on alias k)
SAME_ROW: list[tuple[str, dict[str, Any], str]] = [
    ("integer eq integer", {"capaian": {"eqField": "target"}}, "k.capaian = k.target"),
    ("integer neq integer: NULL on either side holds", {"capaian": {"neqField": "target"}}, neq("k.capaian", "k.target")),
    ("integer lt integer", {"capaian": {"ltField": "target"}}, "k.capaian < k.target"),
    ("integer lte integer", {"capaian": {"lteField": "target"}}, "k.capaian <= k.target"),
    ("integer gt integer", {"capaian": {"gtField": "target"}}, "k.capaian > k.target"),
    ("integer gte integer", {"capaian": {"gteField": "target"}}, "k.capaian >= k.target"),
    ("integer gte float", {"capaian": {"gteField": "bobot"}}, "k.capaian >= k.bobot"),
    ("float lt integer", {"bobot": {"ltField": "capaian"}}, "k.bobot < k.capaian"),
    ("float eq decimal", {"bobot": {"eqField": "pagu"}}, "k.bobot = k.pagu"),
    ("decimal lte float", {"pagu": {"lteField": "bobot"}}, "k.pagu <= k.bobot"),
    ("float neq decimal", {"bobot": {"neqField": "pagu"}}, neq("k.bobot", "k.pagu")),
    ("integer eq decimal", {"target": {"eqField": "pagu"}}, "k.target = k.pagu"),
    ("decimal gt integer", {"pagu": {"gtField": "target"}}, "k.pagu > k.target"),
    ("decimal gt decimal: over the ceiling", {"realisasi": {"gtField": "pagu"}}, "k.realisasi > k.pagu"),
    ("decimal neq decimal", {"realisasi": {"neqField": "pagu"}}, neq("k.realisasi", "k.pagu")),
    ("decimal eq decimal", {"realisasi": {"eqField": "pagu"}}, "k.realisasi = k.pagu"),
    ("date lt date: ended before it began", {"selesai": {"ltField": "mulai"}}, "k.selesai < k.mulai"),
    ("date gte date", {"selesai": {"gteField": "mulai"}}, "k.selesai >= k.mulai"),
    ("date eq date", {"selesai": {"eqField": "mulai"}}, "k.selesai = k.mulai"),
    ("date neq date", {"mulai": {"neqField": "selesai"}}, neq("k.mulai", "k.selesai")),
    ("string eq string", {"pengawas": {"eqField": "pelaksana"}}, "k.pengawas = k.pelaksana"),
    ("string lt string", {"pengawas": {"ltField": "pelaksana"}}, "k.pengawas < k.pelaksana"),
    ("string gte string", {"pelaksana": {"gteField": "pengawas"}}, "k.pelaksana >= k.pengawas"),
    ("string neq string", {"pengawas": {"neqField": "pelaksana"}}, neq("k.pengawas", "k.pelaksana")),
    ("boolean eq boolean", {"lunas": {"eqField": "diperiksa"}}, "k.lunas = k.diperiksa"),
    ("boolean neq boolean", {"lunas": {"neqField": "diperiksa"}}, neq("k.lunas", "k.diperiksa")),
    ("a field with itself: no NULL", {"capaian": {"eqField": "capaian"}}, "k.capaian = k.capaian"),
    ("a field neq itself: only NULL", {"realisasi": {"neqField": "realisasi"}}, neq("k.realisasi", "k.realisasi")),
    (
        "not is two-valued",
        {"not": {"capaian": {"gteField": "target"}}},
        "(k.capaian >= k.target) IS NOT TRUE",
    ),
    ("not of neq", {"not": {"realisasi": {"neqField": "pagu"}}}, "NOT " + neq("k.realisasi", "k.pagu")),
    (
        "beside a value in the same field and another field's in",
        {"capaian": {"gteField": "target", "lt": 8}, "pelaksana": {"in": ["ani", "citra", "eko"]}},
        "k.capaian >= k.target AND k.capaian < 8 AND k.pelaksana IN ('ani', 'citra', 'eko')",
    ),
    (
        "or of two comparisons and a value",
        {"or": [{"realisasi": {"gtField": "pagu"}}, {"selesai": {"ltField": "mulai"}}, {"target": {"eq": 0}}]},
        "k.realisasi > k.pagu OR k.selesai < k.mulai OR k.target = 0",
    ),
    (
        "and of not, isNull and a comparison",
        {"and": [{"not": {"pengawas": {"eqField": "pelaksana"}}}, {"lunas": {"isNull": False}}, {"bobot": {"lteField": "capaian"}}]},
        "(k.pengawas = k.pelaksana) IS NOT TRUE AND k.lunas IS NOT NULL AND k.bobot <= k.capaian",
    ),
]  # fmt: skip

# ===== 2. related, in one SQL source: budget lines and their standard price =====


def price_of(condition: str) -> str:
    return f"EXISTS (SELECT 1 FROM ssh s WHERE s.kode = b.kode_ssh AND {condition})"


LINE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("priced above the standard price", {"hargaSatuan": {"gtField": "ssh.harga"}}, price_of("b.harga_satuan > s.harga")),
    ("priced at it", {"hargaSatuan": {"eqField": "ssh.harga"}}, price_of("b.harga_satuan = s.harga")),
    ("priced below it", {"hargaSatuan": {"ltField": "ssh.harga"}}, price_of("b.harga_satuan < s.harga")),
    ("at most", {"hargaSatuan": {"lteField": "ssh.harga"}}, price_of("b.harga_satuan <= s.harga")),
    ("at least", {"hargaSatuan": {"gteField": "ssh.harga"}}, price_of("b.harga_satuan >= s.harga")),
    (
        "neq: a NULL on either side holds, no price row does not",
        {"hargaSatuan": {"neqField": "ssh.harga"}},
        price_of(neq("b.harga_satuan", "s.harga")),
    ),
    ("the join fields themselves", {"kodeSsh": {"eqField": "ssh.kode"}}, price_of("1 = 1")),
    ("not: no price row passes too", {"not": {"hargaSatuan": {"gtField": "ssh.harga"}}}, "NOT " + price_of("b.harga_satuan > s.harga")),
    (
        "or with an own field",
        {"or": [{"hargaSatuan": {"ltField": "ssh.harga"}}, {"volume": {"gte": 100}}]},
        price_of("b.harga_satuan < s.harga") + " OR b.volume >= 100",
    ),
    (
        "and with own fields and a relationship filter",
        {"uraian": {"in": ["Belanja ATK", "Belanja Cetak"]}, "hargaSatuan": {"gteField": "ssh.harga"},
         "ssh": {"satuan": {"in": ["rim", "paket", "buah"]}}},
        "b.uraian IN ('Belanja ATK', 'Belanja Cetak') AND " + price_of("b.harga_satuan >= s.harga")
        + " AND " + price_of("s.satuan IN ('rim', 'paket', 'buah')"),
    ),
]  # fmt: skip

BPKAD_RULES = """p, user:tester, *, *, allow
# sebagian reads every activity field but the target (which it may only compare) and
# the realised spending (nothing at all); it reads budget lines and a price's unit, and
# may compare a price's code, not read its price
p, user:sebagian, bpkad.kegiatan.*, read, allow
p, user:sebagian, bpkad.kegiatan.target, read, deny
p, user:sebagian, bpkad.kegiatan.target, match, allow
p, user:sebagian, bpkad.kegiatan.realisasi, *, deny
p, user:sebagian, bpkad.belanja.*, read, allow
p, user:sebagian, bpkad.ssh.kode, match, allow
p, user:sebagian, bpkad.ssh.satuan, read, allow
"""
ONE_SOURCE = "bpkad.main"


async def serve_bpkad(tmp: Path, kind: str) -> Served:
    """Activities, budget lines and prices in one scratch database on `kind`, under one
    `sources:` entry, and a hub over them."""
    db = await ScratchDatabase(kind, tmp).create()
    try:
        await load(db.url, KEGIATAN_TABLE, KEGIATAN)
        await load(db.url, BELANJA_TABLE, LINES)
        await load(db.url, SSH_TABLE, PRICES)
        datasets = {"kegiatan": kegiatan(), "belanja": belanja(), "ssh": ssh()}
        write_opd(tmp / "schema", opd_file(BPKAD, {"main": sql_source(db.url)}, datasets))
        write_rules(tmp / "policies", BPKAD_RULES)
        hub, client = await start_hub(tmp)
    except BaseException:
        await db.drop()
        raise
    return Served(hub, [db], {"user:tester": client})


@pytest_asyncio.fixture(scope="module", params=BACKENDS)
async def bpkad(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    served = await serve_bpkad(tmp_path_factory.mktemp(f"fieldcmp-{request.param}"), request.param)
    yield served
    await served.close()


def test_the_cases_select_some_rows_but_not_all(oracle: sqlite3.Connection) -> None:
    for _, _, condition in SAME_ROW:
        some_but_not_all(oracle, KEGIATAN_READ, condition)
    for _, _, condition in LINE_CASES:
        some_but_not_all(oracle, LINES_READ, condition)
    for _, read, _, condition in ACROSS:
        some_but_not_all(oracle, read, condition)
    # the awkward rows are there: ties, NULLs on each side, no related row
    assert KEGIATAN_READ.keys(oracle, "k.capaian = k.target AND k.bobot = k.capaian AND k.target = k.pagu")
    assert LINES_READ.keys(oracle, "b.kode_ssh IS NULL") and LINES_READ.keys(oracle, "b.harga_satuan IS NULL")
    assert LINES_READ.keys(oracle, "b.kode_ssh IS NOT NULL AND NOT " + price_of("1 = 1"))
    assert LINES_READ.keys(oracle, price_of("s.harga IS NULL"))
    assert RECIPIENTS_READ.keys(oracle, "b.nik IS NULL") and RECIPIENTS_READ.keys(oracle, "b.nominal IS NULL")
    assert RECIPIENTS_READ.keys(oracle, RESIDENT.format("p.saldo IS NULL"))
    assert RECIPIENTS_READ.keys(oracle, RESIDENT.format("b.nominal = p.saldo"))


@pytest.mark.parametrize(("where", "condition"), [c[1:] for c in SAME_ROW], ids=[c[0] for c in SAME_ROW])
async def test_a_same_row_comparison_selects_the_rows_sql_does(
    bpkad: Served, oracle: sqlite3.Connection, where: dict[str, Any], condition: str
) -> None:
    want = KEGIATAN_READ.keys(oracle, condition)
    keys, total = await bpkad.every_page(KEGIATAN_READ, where)
    assert keys == want
    assert total == len(want)


AGGREGATE = """query Groups($where: BpkadKegiatanAggregateWhere) {
  bpkad { kegiatanAggregate(groupBy: [pelaksana], where: $where) { group { pelaksana } count perturbed } } }"""


@pytest.mark.parametrize(
    ("where", "condition"),
    [
        ({"realisasi": {"gtField": "pagu"}}, "k.realisasi > k.pagu"),
        ({"or": [{"pengawas": {"neqField": "pelaksana"}}, {"not": {"selesai": {"gteField": "mulai"}}}]},
         f"{neq('k.pengawas', 'k.pelaksana')} OR (k.selesai >= k.mulai) IS NOT TRUE"),
    ],
    ids=["over the ceiling", "or of neq and not"],
)  # fmt: skip
async def test_a_same_row_comparison_in_an_aggregate_counts_what_sql_does(
    bpkad: Served, oracle: sqlite3.Connection, where: dict[str, Any], condition: str
) -> None:
    body = await bpkad.ask(AGGREGATE, {"where": where})
    assert "errors" not in body, body["errors"]
    groups = body["data"]["bpkad"]["kegiatanAggregate"]
    want = dict(oracle.execute(f"SELECT k.pelaksana, count(*) FROM kegiatan k WHERE {condition} GROUP BY 1"))
    assert {g["group"]["pelaksana"]: g["count"] for g in groups} == want
    assert len(groups) > 1 and not any(g["perturbed"] for g in groups)


# ----- 2. the related form in one SQL source: one statement per page -----


@pytest.mark.parametrize(("where", "condition"), [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES])
async def test_lines_compared_with_their_price_in_one_source_equal_sql(
    bpkad: Served, oracle: sqlite3.Connection, where: dict[str, Any], condition: str
) -> None:
    want = LINES_READ.keys(oracle, condition)
    keys, total = await bpkad.every_page(LINES_READ, where)
    assert keys == want
    assert total == len(want)


STATEMENT_CASES = [
    c for c in LINE_CASES if c[0] not in ("priced at it", "priced below it", "at most", "at least")
]


@pytest.mark.parametrize(
    ("where", "condition"), [c[1:] for c in STATEMENT_CASES], ids=[c[0] for c in STATEMENT_CASES]
)
async def test_which_lines_are_priced_above_their_standard_price_costs_one_query_per_page(
    bpkad: Served, oracle: sqlite3.Connection, where: dict[str, Any], condition: str
) -> None:
    """Without totalCount, each page is one statement to the one source: a SELECT with
    a correlated EXISTS (as many as the filter's relationships); with it, two."""
    want = LINES_READ.keys(oracle, condition)
    keys: list[Any] = []
    after = None
    for _ in range(len(LINES) // 17 + 2):
        with bpkad.statements("bpkad.belanja") as statements:
            body, cost = await bpkad.counted(
                LINES_READ.query(total=False), {"where": where, "after": after, "first": 17}
            )
        assert "errors" not in body, body["errors"]
        assert cost == Counter({ONE_SOURCE: 1}), cost
        (statement,) = statements
        assert statement.lstrip().upper().startswith("SELECT"), statement
        assert statement.upper().count("EXISTS") == condition.count("EXISTS"), statement
        page = body["data"]["bpkad"]["belanja"]
        keys += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert keys == want
    body, cost = await bpkad.counted(LINES_READ.query(), {"where": where, "after": None, "first": 17})
    assert "errors" not in body, body["errors"]
    assert body["data"]["bpkad"]["belanja"]["totalCount"] == len(want)
    assert cost == Counter({ONE_SOURCE: 2}), cost


# ----- 2. the related form across two sources -----

RESIDENT = "EXISTS (SELECT 1 FROM penduduk p WHERE p.nik = b.nik AND {})"
GRANT = "EXISTS (SELECT 1 FROM penerima_bansos b WHERE b.nik = p.nik AND {})"
SALDO = "penduduk.saldo"

# (id, read, where, SQL condition)
ACROSS: list[tuple[str, Read, dict[str, Any], str]] = [
    ("grant above the balance", RECIPIENTS_READ, {"nominal": {"gtField": SALDO}}, RESIDENT.format("b.nominal > p.saldo")),
    ("grant equal to it", RECIPIENTS_READ, {"nominal": {"eqField": SALDO}}, RESIDENT.format("b.nominal = p.saldo")),
    ("grant below it", RECIPIENTS_READ, {"nominal": {"ltField": SALDO}}, RESIDENT.format("b.nominal < p.saldo")),
    ("lte", RECIPIENTS_READ, {"nominal": {"lteField": SALDO}}, RESIDENT.format("b.nominal <= p.saldo")),
    ("gte", RECIPIENTS_READ, {"nominal": {"gteField": SALDO}}, RESIDENT.format("b.nominal >= p.saldo")),
    (
        "neq: NULL on either side holds, no resident does not",
        RECIPIENTS_READ,
        {"nominal": {"neqField": SALDO}},
        RESIDENT.format(neq("b.nominal", "p.saldo")),
    ),
    ("string gt string (code points)", RECIPIENTS_READ, {"program": {"gtField": "penduduk.nama"}}, RESIDENT.format("b.program > p.nama")),
    ("not: no resident passes too", RECIPIENTS_READ, {"not": {"nominal": {"lteField": SALDO}}}, "NOT " + RESIDENT.format("b.nominal <= p.saldo")),
    (
        "and with own fields",
        RECIPIENTS_READ,
        {"program": {"in": ["PKH", "BPNT"]}, "tahun": {"eq": 2025}, "nominal": {"ltField": SALDO}},
        "b.program IN ('PKH', 'BPNT') AND b.tahun = 2025 AND " + RESIDENT.format("b.nominal < p.saldo"),
    ),
    (
        "and with a relationship filter",
        RECIPIENTS_READ,
        {"nominal": {"gteField": SALDO}, "penduduk": {"statusHidup": {"eq": True}}},
        RESIDENT.format("b.nominal >= p.saldo") + " AND " + RESIDENT.format("p.is_alive = 1"),
    ),
    (
        "or with an own field",
        RECIPIENTS_READ,
        {"or": [{"nominal": {"ltField": SALDO}}, {"program": {"eq": "BLT-DD"}}]},
        RESIDENT.format("b.nominal < p.saldo") + " OR b.program = 'BLT-DD'",
    ),
    (
        "or of a not and an own range",
        RECIPIENTS_READ,
        {"or": [{"not": {"nominal": {"gteField": SALDO}}}, {"id": {"lte": 20}}], "tahun": {"eq": 2024}},
        "(NOT " + RESIDENT.format("b.nominal >= p.saldo") + " OR b.id <= 20) AND b.tahun = 2024",
    ),
    (
        "a related row's fields compared with each other",
        RECIPIENTS_READ,
        {"penduduk": {"tinggi": {"gtField": "saldo"}}},
        RESIDENT.format("p.tinggi > p.saldo"),
    ),
    (
        "residents with some grant below their balance",
        RESIDENTS_READ,
        {"penerimaBansos": {"some": {"nominal": {"ltField": SALDO}}}},
        GRANT.format("EXISTS (SELECT 1 FROM penduduk q WHERE q.nik = b.nik AND b.nominal < q.saldo)"),
    ),
    (
        "residents every grant of whom is at least their balance",
        RESIDENTS_READ,
        {"penerimaBansos": {"every": {"nominal": {"gteField": SALDO}}}},
        "NOT " + GRANT.format("NOT EXISTS (SELECT 1 FROM penduduk q WHERE q.nik = b.nik AND b.nominal >= q.saldo)"),
    ),
]  # fmt: skip

REGENCY_RULES = """p, user:tester, *, *, allow
# dinsos reads recipients, and may only compare residents' NIK and balance
p, user:dinsos, dinsos.penerima_bansos.*, read, allow
p, user:dinsos, dukcapil.penduduk.nik, match, allow
p, user:dinsos, dukcapil.penduduk.saldo, match, allow
# saldo reads residents' balance, and recipients but the amount, which it may only compare
p, user:saldo, dinsos.penerima_bansos.*, read, allow
p, user:saldo, dinsos.penerima_bansos.nominal, read, deny
p, user:saldo, dinsos.penerima_bansos.nominal, match, allow
p, user:saldo, dukcapil.penduduk.nik, match, allow
p, user:saldo, dukcapil.penduduk.saldo, read, allow
# nojoin reads both values but may not compare residents' NIK
p, user:nojoin, dinsos.penerima_bansos.*, read, allow
p, user:nojoin, dukcapil.penduduk.saldo, read, allow
# both reads both values and may compare the join fields
p, user:both, dinsos.penerima_bansos.*, read, allow
p, user:both, dukcapil.penduduk.nik, match, allow
p, user:both, dukcapil.penduduk.saldo, read, allow
"""
LAYOUTS = {"postgresql+mariadb": ("postgresql", "mariadb"), "sqlite+sqlite": ("sqlite", "sqlite")}


@pytest_asyncio.fixture(scope="module", params=list(LAYOUTS))
async def regency(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """Residents and recipients in two sources (LAYOUTS), and a hub over them."""
    residents, recipients = LAYOUTS[request.param]
    tmp = tmp_path_factory.mktemp("fieldcmp-" + request.param.replace("+", "-"))
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS, kind=residents, recipients_kind=recipients)
    write_rules(tmp / "policies", REGENCY_RULES)
    try:
        hub, client = await start_hub(tmp)
    except BaseException:
        for db in databases:
            await db.drop()
        raise
    served = Served(hub, databases, {"user:tester": client})
    yield served
    await served.close()


@pytest.mark.parametrize(("read", "where", "condition"), [c[1:] for c in ACROSS], ids=[c[0] for c in ACROSS])
async def test_a_related_comparison_across_sources_selects_the_rows_sql_does(
    regency: Served, oracle: sqlite3.Connection, read: Read, where: dict[str, Any], condition: str
) -> None:
    want = read.keys(oracle, condition)
    keys, total = await regency.every_page(read, where, first=37)
    assert keys == want
    assert total == len(want)


RECIPIENTS_BY_PROGRAM = """query($where: DinsosPenerimaBansosAggregateWhere) {
  dinsos { penerimaBansosAggregate(groupBy: [program], where: $where) { group { program } count perturbed } } }"""


async def test_a_related_comparison_in_an_aggregate_counts_what_sql_does(
    regency: Served, oracle: sqlite3.Connection
) -> None:
    where = {"or": [{"nominal": {"ltField": SALDO}}, {"not": {"nominal": {"neqField": SALDO}}}]}
    condition = (
        RESIDENT.format("b.nominal < p.saldo") + " OR NOT " + RESIDENT.format(neq("b.nominal", "p.saldo"))
    )
    body = await regency.ask(RECIPIENTS_BY_PROGRAM, {"where": where})
    assert "errors" not in body, body["errors"]
    groups = body["data"]["dinsos"]["penerimaBansosAggregate"]
    want = dict(
        oracle.execute(f"SELECT b.program, count(*) FROM penerima_bansos b WHERE {condition} GROUP BY 1")
    )
    assert {g["group"]["program"]: g["count"] for g in groups} == want
    assert len(groups) > 1 and not any(g["perturbed"] for g in groups)


# ===== 3. sources without SQL of their own: a CSV file, a REST API =====


def write_kegiatan_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)

    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(list(KEGIATAN_TYPES))
        for r in rows:
            w.writerow([cell(r[c]) for c in KEGIATAN_TYPES])
    return path


def rest_people() -> list[dict[str, Any]]:
    """The residents as the REST API serves them (it has no NULL balances); every seventh
    has a balance written as its height is (`150.1`)."""
    out = []
    for i, p in enumerate(PEOPLE):
        saldo = (
            Decimal(str(p["tinggi"])) if i % 7 == 0 else p["saldo"] if p["saldo"] is not None else Decimal(0)
        )
        out.append({**p, "saldo": saldo})
    return out


REST_PEOPLE = rest_people()


@dataclass
class Elsewhere:
    served: Served
    rest: RestServer
    oracle: sqlite3.Connection


@pytest_asyncio.fixture(scope="module")
async def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Elsewhere]:
    """BPKAD's activities in a CSV file source, and the residents behind a REST API whose
    listing narrows by kecamatan and nik (push-down of `eq`), in one hub."""
    tmp = tmp_path_factory.mktemp("fieldcmp-elsewhere")
    rest = RestServer(REST_PEOPLE)
    db = sqlite3.connect(":memory:")
    _table(db, "penduduk", PEOPLE_COLUMNS, REST_PEOPLE)
    async with serve(rest.app) as url:
        csv_source = {
            "adapter": "file",
            "path": str(write_kegiatan_csv(tmp / "kegiatan.csv", KEGIATAN)),
            "timeout": 5,
        }
        write_opd(tmp / "schema", opd_file(BPKAD, {"berkas": csv_source}, {"kegiatan": kegiatan("berkas")}))
        residents = penduduk(
            "api",
            fields={"status_hidup": {"column": None}},  # the API calls it status_hidup
            relationships={},
            path="/flat/all",
            params={"kecamatan": "kecamatan", "nik": "nik"},
        )
        write_opd(
            tmp / "schema",
            opd_file(DUKCAPIL, {"api": {"adapter": "rest", "url": url, "timeout": 5}}, {"penduduk": residents}),
        )  # fmt: skip
        hub, client = await start_hub(tmp)
        served = Served(hub, [], {"user:tester": client})
        try:
            yield Elsewhere(served, rest, db)
        finally:
            await served.close()
            rest.stop.set()
            db.close()


@pytest.mark.parametrize(("where", "condition"), [c[1:] for c in SAME_ROW], ids=[c[0] for c in SAME_ROW])
async def test_a_csv_file_source_compares_two_fields_as_sql_does(
    elsewhere: Elsewhere, oracle: sqlite3.Connection, where: dict[str, Any], condition: str
) -> None:
    want = KEGIATAN_READ.keys(oracle, condition)
    keys, total = await elsewhere.served.every_page(KEGIATAN_READ, where, first=29)
    assert keys == want
    assert total == len(want)


REST_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("string lt string", {"nama": {"ltField": "kecamatan"}}, "p.nama < p.kecamatan"),
    ("string neq string with NULLs", {"nama": {"neqField": "kecamatan"}}, neq("p.nama", "p.kecamatan")),
    ("integer lte float", {"anak": {"lteField": "tinggi"}}, "p.anak <= p.tinggi"),
    ("not is two-valued", {"not": {"nama": {"gteField": "kecamatan"}}}, "(p.nama >= p.kecamatan) IS NOT TRUE"),
    (
        "beside a value the API narrows by",
        {"kecamatan": {"eq": "Meral"}, "nama": {"gtField": "kecamatan"}},
        "p.kecamatan = 'Meral' AND p.nama > p.kecamatan",
    ),
    # a comparison with a field is never sent to the API as a parameter (it once was, as
    # kecamatan=FieldRef(...), and the API answered no rows)
    ("eq on a field the API narrows by", {"kecamatan": {"eqField": "nama"}}, "p.kecamatan = p.nama"),
    ("the same, the other way round", {"nama": {"eqField": "kecamatan"}}, "p.nama = p.kecamatan"),
]  # fmt: skip


@pytest.mark.parametrize(("where", "condition"), [c[1:] for c in REST_CASES], ids=[c[0] for c in REST_CASES])
async def test_a_rest_source_compares_two_fields_in_memory_as_sql_does(
    elsewhere: Elsewhere, where: dict[str, Any], condition: str
) -> None:
    want = RESIDENTS_READ.keys(elsewhere.oracle, condition)
    assert 0 < len(want) < len(REST_PEOPLE)
    keys, total = await elsewhere.served.every_page(RESIDENTS_READ, where, first=37)
    assert keys == want
    assert total == len(want)


FLOAT_DECIMAL = [
    ("float eq decimal", {"tinggi": {"eqField": "saldo"}}, "p.tinggi = p.saldo"),
    ("float lt decimal", {"tinggi": {"ltField": "saldo"}}, "p.tinggi < p.saldo"),
    ("decimal lte float", {"saldo": {"lteField": "tinggi"}}, "p.saldo <= p.tinggi"),
]


# Python compares a float with a decimal exactly (150.1 != Decimal("150.1")); SQL
# (SQLite, PostgreSQL) compares them as floats, and so must the in-memory evaluator
@pytest.mark.parametrize(
    ("where", "condition"), [c[1:] for c in FLOAT_DECIMAL], ids=[c[0] for c in FLOAT_DECIMAL]
)
async def test_in_memory_a_float_equals_a_decimal_written_the_same_as_in_sql(
    elsewhere: Elsewhere, where: dict[str, Any], condition: str
) -> None:
    want = RESIDENTS_READ.keys(elsewhere.oracle, condition)
    assert 0 < len(want) < len(REST_PEOPLE)
    keys, total = await elsewhere.served.every_page(RESIDENTS_READ, where, first=100)
    assert keys == want
    assert total == len(want)


# ===== 4. errors =====

# (id, where, what the message names)
BAD_KEGIATAN = [
    ("unknown field", {"capaian": {"gtField": "nilai"}}, ["nilai"]),
    ("empty name", {"capaian": {"gtField": ""}}, ["capaian"]),
    ("unknown relationship", {"capaian": {"gtField": "ssh.harga"}}, ["ssh"]),
    ("string with integer", {"pelaksana": {"eqField": "target"}}, ["pelaksana", "target"]),
    ("integer with string", {"target": {"ltField": "pelaksana"}}, ["target", "pelaksana"]),
    ("date with integer", {"mulai": {"lteField": "capaian"}}, ["mulai", "capaian"]),
    ("boolean with integer", {"lunas": {"eqField": "target"}}, ["lunas", "target"]),
    ("decimal with date", {"pagu": {"neqField": "selesai"}}, ["pagu", "selesai"]),
    ("inside or", {"or": [{"id": {"eq": 1}}, {"capaian": {"gtField": "nilai"}}]}, ["nilai"]),
]  # fmt: skip
BAD_LINES = [
    ("unknown related field", {"hargaSatuan": {"gtField": "ssh.nilai"}}, ["nilai"]),
    ("the column name, not the GraphQL name", {"volume": {"ltField": "harga_satuan"}}, ["harga_satuan"]),
    ("unknown relationship", {"hargaSatuan": {"gtField": "standar.harga"}}, ["standar"]),
    ("two relationships deep", {"hargaSatuan": {"gtField": "ssh.belanja.hargaSatuan"}}, ["ssh.belanja"]),
    ("related string with integer", {"uraian": {"eqField": "ssh.harga"}}, ["uraian", "ssh.harga"]),
    ("related integer with string", {"hargaSatuan": {"gteField": "ssh.satuan"}}, ["hargaSatuan", "ssh.satuan"]),
]  # fmt: skip
BAD_PRICES = [
    ("to-many relationship", {"harga": {"ltField": "belanja.hargaSatuan"}}, ["belanja"]),
]
PRICES_READ = Read("bpkad", "ssh", "BpkadSshWhere", "kode", "ssh", "s", "kode")


@pytest.mark.parametrize("bpkad", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("read", "where", "named"),
    [(KEGIATAN_READ, *c[1:]) for c in BAD_KEGIATAN] + [(LINES_READ, *c[1:]) for c in BAD_LINES]
    + [(PRICES_READ, *c[1:]) for c in BAD_PRICES],
    ids=[c[0] for c in BAD_KEGIATAN + BAD_LINES + BAD_PRICES],
)  # fmt: skip
async def test_a_comparison_with_a_field_that_cannot_be_is_bad_user_input(
    bpkad: Served, read: Read, where: dict[str, Any], named: list[str]
) -> None:
    for how in ("read", "aggregate"):
        if how == "read":
            body = await bpkad.ask(read.query(), {"where": where, "after": None, "first": 5})
            field_name = read.field
        else:
            field_name = f"{read.field}Aggregate"
            query = f"""query($where: {read.where_type.replace("Where", "AggregateWhere")}) {{
              {read.opd} {{ {field_name}(where: $where) {{ count }} }} }}"""
            body = await bpkad.ask(query, {"where": where})
        error = error_of(body, read.opd, field_name)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        for name in named:
            assert name in error["message"], (name, error["message"])


async def test_a_to_many_relationship_in_the_path_is_bad_user_input(regency: Served) -> None:
    """`penerimaBansos.nominal` from a resident names many grants, not one."""
    where = {"anak": {"ltField": "penerimaBansos.nominal"}}
    body = await regency.ask(RESIDENTS_READ.query(), {"where": where, "after": None, "first": 5})
    error = error_of(body, "dukcapil", "penduduk")
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "penerimaBansos" in error["message"]


MALFORMED = {
    "an object where a value goes": {"capaian": {"gt": {"field": "target"}}},
    "an object where a name goes": {"capaian": {"gtField": {"field": "target"}}},
    "a number where a name goes": {"capaian": {"gtField": 5}},
    "no inField": {"capaian": {"inField": "target"}},
    "no likeField": {"pelaksana": {"likeField": "pengawas"}},
    "booleans are not ordered": {"lunas": {"ltField": "diperiksa"}},
    "null": {"capaian": {"gtField": None}},
}


@pytest.mark.parametrize("bpkad", ["sqlite"], indirect=True)
@pytest.mark.parametrize("where", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_operand_is_bad_user_input_not_a_server_error(
    bpkad: Served, where: dict[str, Any]
) -> None:
    client = await bpkad.client("user:tester")
    r = await client.post("/graphql", json={"query": KEGIATAN_READ.query(), "variables": {"where": where}})
    assert r.status_code in (200, 400), r.text
    body = r.json()
    assert body.get("data") is None or body["data"]["bpkad"]["kegiatan"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body


# (subject, read, where, the object refused)
REFUSED_SAME_ROW = [
    ("match only on the other", KEGIATAN_READ, {"capaian": {"gteField": "target"}}, "bpkad.kegiatan.target"),
    ("match only on the first", KEGIATAN_READ, {"target": {"lteField": "capaian"}}, "bpkad.kegiatan.target"),
    ("no right on the other", KEGIATAN_READ, {"pagu": {"ltField": "realisasi"}}, "bpkad.kegiatan.realisasi"),
    ("no right, under not and or", KEGIATAN_READ,
     {"or": [{"id": {"eq": 1}}, {"not": {"pagu": {"neqField": "realisasi"}}}]}, "bpkad.kegiatan.realisasi"),
    ("eq needs read too", KEGIATAN_READ, {"capaian": {"eqField": "target"}}, "bpkad.kegiatan.target"),
    ("match only on the related price", LINES_READ, {"hargaSatuan": {"gtField": "ssh.harga"}}, "bpkad.ssh.harga"),
]  # fmt: skip


@pytest.mark.parametrize("bpkad", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("read", "where", "obj"), [c[1:] for c in REFUSED_SAME_ROW], ids=[c[0] for c in REFUSED_SAME_ROW]
)
async def test_a_comparison_needs_read_on_both_fields(
    bpkad: Served, oracle: sqlite3.Connection, read: Read, where: dict[str, Any], obj: str
) -> None:
    body = await bpkad.ask(read.query(), {"where": where, "after": None, "first": 5}, "user:sebagian")
    error = error_of(body, read.opd, read.field)
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert error["extensions"]["object"] == obj and obj in error["message"], error


@pytest.mark.parametrize("bpkad", ["sqlite"], indirect=True)
async def test_a_caller_who_reads_both_fields_compares_them(
    bpkad: Served, oracle: sqlite3.Connection
) -> None:
    """user:sebagian reads the achievement and the weight: the refusals above are about
    the other field, not about comparing fields at all."""
    keys, total = await bpkad.every_page(
        KEGIATAN_READ, {"capaian": {"gteField": "bobot"}}, subject="user:sebagian"
    )
    want = KEGIATAN_READ.keys(oracle, "k.capaian >= k.bobot")
    assert keys == want and total == len(want)


# (subject, where, the object refused)
REFUSED_RELATED = [
    ("only compares the related balance", "user:dinsos", {"nominal": {"gtField": SALDO}}, "dukcapil.penduduk.saldo"),
    ("the same under not", "user:dinsos", {"not": {"nominal": {"eqField": SALDO}}}, "dukcapil.penduduk.saldo"),
    ("only compares its own amount", "user:saldo", {"nominal": {"ltField": SALDO}}, "dinsos.penerima_bansos.nominal"),
    ("may not compare the related join field", "user:nojoin", {"nominal": {"gteField": SALDO}}, "dukcapil.penduduk.nik"),
]  # fmt: skip


@pytest.mark.parametrize("regency", ["sqlite+sqlite"], indirect=True)
@pytest.mark.parametrize("how", ["read", "aggregate"])
@pytest.mark.parametrize(
    ("subject", "where", "obj"), [c[1:] for c in REFUSED_RELATED], ids=[c[0] for c in REFUSED_RELATED]
)
async def test_a_related_comparison_needs_read_on_both_fields_and_match_on_the_join(
    regency: Served, subject: str, where: dict[str, Any], obj: str, how: str
) -> None:
    if how == "read":
        body = await regency.ask(
            RECIPIENTS_READ.query(), {"where": where, "after": None, "first": 5}, subject
        )
        error = error_of(body, "dinsos", "penerimaBansos")
    else:
        body = await regency.ask(RECIPIENTS_BY_PROGRAM, {"where": where}, subject)
        error = error_of(body, "dinsos", "penerimaBansosAggregate")
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert error["extensions"]["object"] == obj and obj in error["message"], error


@pytest.mark.parametrize("regency", ["sqlite+sqlite"], indirect=True)
async def test_a_caller_who_reads_both_related_fields_compares_them(
    regency: Served, oracle: sqlite3.Connection
) -> None:
    keys, total = await regency.every_page(
        RECIPIENTS_READ, {"nominal": {"gtField": SALDO}}, subject="user:both", first=37
    )
    want = RECIPIENTS_READ.keys(oracle, RESIDENT.format("b.nominal > p.saldo"))
    assert keys == want and total == len(want)


# ===== 5. variables =====

# (scalar, field, operator, a field to compare with, a value, SQL with the field, SQL with the value)
VARIABLES = [
    ("BigInt", "capaian", "gte", "target", 5, "k.capaian >= k.target", "k.capaian >= 5"),
    ("BigInt", "target", "eq", "pagu", "7", "k.target = k.pagu", "k.target = 7"),
    ("Float", "bobot", "lt", "capaian", 4.5, "k.bobot < k.capaian", "k.bobot < 4.5"),
    ("Decimal", "realisasi", "gt", "pagu", "5.25", "k.realisasi > k.pagu", "k.realisasi > 5.25"),
    ("Date", "selesai", "lt", "mulai", "2024-02-01", "k.selesai < k.mulai", "k.selesai < '2024-02-01'"),
    ("String", "pengawas", "neq", "pelaksana", "budi", neq("k.pengawas", "k.pelaksana"),
     "(k.pengawas <> 'budi' OR k.pengawas IS NULL)"),
    ("Boolean", "lunas", "eq", "diperiksa", True, "k.lunas = k.diperiksa", "k.lunas = 1"),
]  # fmt: skip


@pytest.mark.parametrize("bpkad", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("scalar", "name", "op", "other", "value", "with_field", "with_value"),
    VARIABLES,
    ids=[f"{v[0]} {v[1]} {v[2]}" for v in VARIABLES],
)
async def test_one_query_takes_the_operand_as_a_field_or_a_value_variable(
    bpkad: Served,
    oracle: sqlite3.Connection,
    scalar: str,
    name: str,
    op: str,
    other: str,
    value: Any,
    with_field: str,
    with_value: str,
) -> None:
    """`{name: {op: $v, opField: $f}}`: a variable not given leaves its operator out."""
    query = f"""query($v: {scalar}, $f: String) {{
      bpkad {{ kegiatan(first: 1000, where: {{{name}: {{{op}: $v, {op}Field: $f}}}}) {{ totalCount nodes {{ id }} }} }} }}"""
    for variables, condition in (({"f": other}, with_field), ({"v": value}, with_value)):
        body = await bpkad.ask(query, variables)
        assert "errors" not in body, (variables, body["errors"])
        page = body["data"]["bpkad"]["kegiatan"]
        want = KEGIATAN_READ.keys(oracle, condition)
        assert [n["id"] for n in page["nodes"]] == want, variables
        assert page["totalCount"] == len(want)
        some_but_not_all(oracle, KEGIATAN_READ, condition)


@pytest.mark.parametrize("bpkad", ["sqlite"], indirect=True)
async def test_an_operand_written_in_the_query_takes_a_field_or_a_value(
    bpkad: Served, oracle: sqlite3.Connection
) -> None:
    for operand, condition in (('gteField: "target"', "k.capaian >= k.target"), ("gte: 5", "k.capaian >= 5")):
        query = (
            f"{{ bpkad {{ kegiatan(first: 1000, where: {{capaian: {{{operand}}}}}) {{ nodes {{ id }} }} }} }}"
        )
        body = await bpkad.ask(query)
        assert "errors" not in body, body["errors"]
        assert [n["id"] for n in body["data"]["bpkad"]["kegiatan"]["nodes"]] == KEGIATAN_READ.keys(
            oracle, condition
        )


@pytest.mark.parametrize("regency", ["postgresql+mariadb"], indirect=True)
async def test_a_related_operand_variable_takes_a_field_or_a_value(
    regency: Served, oracle: sqlite3.Connection
) -> None:
    query = """query($v: BigInt, $f: String) {
      dinsos { penerimaBansos(first: 1000, where: {nominal: {lt: $v, ltField: $f}}) { totalCount nodes { id } } } }"""
    for variables, condition in (
        ({"f": SALDO}, RESIDENT.format("b.nominal < p.saldo")),
        ({"v": "100000"}, "b.nominal < 100000"),
    ):
        body = await regency.ask(query, variables)
        assert "errors" not in body, body["errors"]
        page = body["data"]["dinsos"]["penerimaBansos"]
        want = RECIPIENTS_READ.keys(oracle, condition)
        assert [n["id"] for n in page["nodes"]] == want and page["totalCount"] == len(want) > 0
