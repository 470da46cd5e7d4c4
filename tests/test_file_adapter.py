"""File sources (CSV, XLSX) answer exactly as the SQL adapter does on the same rows.

The files hold the test regency's residents; every answer is compared with the SQL
adapter over real SQLite holding the same rows (`sqlite_regency`).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from sqlalchemy.pool import StaticPool

from adapters.base import (
    Adapter,
    AggregateQuery,
    And,
    Binding,
    Cmp,
    Filter,
    Measure,
    Not,
    Or,
    Order,
    PageQuery,
    SourceError,
)
from adapters.files import FileAdapter
from hub.sources import binding
from tests.support import catalogs
from tests.support.regency import Regency, start_hub
from tests.support.waiting import eventually

DS = "dukcapil.penduduk"
FIELDS = ("nik", "nama", "kecamatan", "tanggal_lahir", "status_hidup", "tinggi", "saldo", "anak")
COLUMNS = ["nik", "nama", "kecamatan", "tanggal_lahir", "is_alive", "tinggi", "saldo", "anak"]
KINDS = ["csv", "csv-semicolon-bom", "xlsx"]

FILTERS: list[Filter | None] = [
    None,
    Cmp("kecamatan", "eq", "Meral"),
    Cmp("kecamatan", "neq", "Meral"),
    Cmp("kecamatan", "in", ("Moro", "Tebing")),
    Cmp("kecamatan", "nin", ("Moro",)),
    Cmp("kecamatan", "isNull", True),
    Cmp("nama", "like", "%an%"),
    Cmp("nama", "gte", "ani"),
    Cmp("nik", "lt", "210200000000100"),
    Cmp("tanggal_lahir", "lt", dt.date(1960, 1, 1)),
    Cmp("tanggal_lahir", "isNull", False),
    Cmp("status_hidup", "eq", False),
    Cmp("tinggi", "gt", 170.5),
    Cmp("saldo", "lte", Decimal("25000.50")),
    Cmp("anak", "in", (0, 2)),
    Cmp("anak", "neq", 3),
    And((Cmp("anak", "gte", 1), Not(Cmp("kecamatan", "eq", "Moro")))),
    Or((Cmp("status_hidup", "eq", False), Cmp("anak", "isNull", True))),
    Not(Cmp("tanggal_lahir", "gte", dt.date(1980, 1, 1))),
]
ORDERS: list[tuple[Order, ...]] = [
    (Order("nik"),),
    (Order("kecamatan"), Order("nik")),
    (Order("tanggal_lahir", True), Order("nik")),
    (Order("saldo", True), Order("nama"), Order("nik")),
    (Order("status_hidup"), Order("anak", True), Order("nik", True)),
]


# --- writing the files -----------------------------------------------------------------------


def cells(p: dict[str, Any], semicolon: bool = False) -> list[str]:
    """A resident as CSV text; the semicolon flavour as Indonesian Excel writes it."""

    def number(v: Any) -> str:
        return "" if v is None else str(v).replace(".", ",") if semicolon else str(v)

    alive = ("Ya" if p["is_alive"] else "Tidak") if semicolon else ("true" if p["is_alive"] else "FALSE")
    born = p["tanggal_lahir"].isoformat() if p["tanggal_lahir"] else ""
    return [p["nik"], p["nama"], p["kecamatan"] or "", born, alive, number(p["tinggi"]), number(p["saldo"]),
            number(p["anak"])]  # fmt: skip


def write_csv(path: Path, people: list[dict[str, Any]], semicolon: bool = False) -> Path:
    """Comma: plain UTF-8 with an extra column. Semicolon: BOM, upper-case headers, CRLF."""
    with path.open("w", newline="", encoding="utf-8-sig" if semicolon else "utf-8") as f:
        w = csv.writer(f, delimiter=";" if semicolon else ",", lineterminator="\r\n" if semicolon else "\n")
        w.writerow([c.upper() for c in COLUMNS] if semicolon else [*COLUMNS, "keterangan"])
        for p in people:
            w.writerow(cells(p, True) if semicolon else [*cells(p), "catatan, bebas"])
    return path


def xlsx_row(p: dict[str, Any], columns: list[str]) -> list[Any]:
    return [float(p[c]) if isinstance(p[c], Decimal) else p[c] for c in columns]


def write_xlsx(path: Path, people: list[dict[str, Any]]) -> Path:
    """Sheet `Penduduk` (columns in another order, real date cells), then sheet `Meral`."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Penduduk"
    columns = COLUMNS[::-1]
    ws.append(columns)
    for p in people:
        ws.append(xlsx_row(p, columns))
    meral = wb.create_sheet("Meral")
    meral.append(COLUMNS)
    for p in people:
        if p["kecamatan"] == "Meral":
            meral.append(xlsx_row(p, COLUMNS))
    wb.save(path)
    return path


def write(kind: str, path: Path, people: list[dict[str, Any]]) -> Path:
    if kind == "xlsx":
        return write_xlsx(path.with_suffix(".xlsx"), people)
    return write_csv(path.with_suffix(".csv"), people, semicolon=kind != "csv")


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def penduduk(sqlite_regency: Regency) -> Binding:
    return binding(sqlite_regency.hub.catalog.dataset(DS))


@pytest.fixture(scope="module")
def sql(sqlite_regency: Regency) -> Adapter:
    return sqlite_regency.hub.sources.of_dataset[DS].adapter


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def files(
    sqlite_regency: Regency, penduduk: Binding, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, FileAdapter]]:
    tmp = tmp_path_factory.mktemp("files")
    adapters = {
        kind: FileAdapter(
            "dukcapil.berkas", {"path": str(write(kind, tmp / kind, sqlite_regency.people))}, [penduduk]
        )
        for kind in KINDS
    }
    yield adapters
    for a in adapters.values():
        await a.close()


# --- the same answers as SQL ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_pages_and_counts_equal_sql(kind: str, files: dict[str, FileAdapter], sql: Adapter) -> None:
    adapter = files[kind]
    assert adapter.problems == []
    for i, where in enumerate(FILTERS):
        for order in (
            ORDERS[i % len(ORDERS)],
            ORDERS[(i + 2) % len(ORDERS)],
        ):  # every order runs in the keyset test
            q = PageQuery(DS, FIELDS, where, order, None, 1000)
            expected = await sql.fetch(q)
            assert await adapter.fetch(q) == expected, (where, order)
        assert await adapter.count(DS, where) == await sql.count(DS, where) == len(expected)
    everyone = await adapter.fetch(PageQuery(DS, FIELDS, None, (Order("nik"),), None, 1000))
    assert len(everyone) == 400
    assert any(r[3] is None for r in everyone) and any(r[7] is None for r in everyone)
    # The module's premise: SQLAlchemy gives an in-memory aiosqlite URL one connection, one database.
    assert adapter._data is not None and isinstance(adapter._data.sql.engine.pool, StaticPool)


@pytest.mark.parametrize("kind", KINDS)
async def test_keyset_pages_equal_sql(kind: str, files: dict[str, FileAdapter], sql: Adapter) -> None:
    adapter = files[kind]
    for where in (None, Or((Cmp("status_hidup", "eq", False), Cmp("anak", "isNull", True)))):
        for order in ORDERS:
            after, pages = None, 0
            while True:
                q = PageQuery(DS, FIELDS, where, order, after, 37)
                page = await adapter.fetch(q)
                assert page == await sql.fetch(q), (where, order, after)
                if len(page) < 37:
                    break
                after, pages = tuple(page[-1][FIELDS.index(o.field)] for o in order), pages + 1
            assert pages >= 1


@pytest.mark.parametrize("kind", KINDS)
async def test_aggregates_and_lookups_equal_sql(
    kind: str, files: dict[str, FileAdapter], sql: Adapter
) -> None:
    adapter = files[kind]
    measures: tuple[tuple[Measure, str], ...] = (
        ("sum", "anak"),
        ("min", "tanggal_lahir"),
        ("max", "nama"),
        ("sum", "saldo"),
        ("avg", "tinggi"),
    )
    for group_by in [(), ("kecamatan",), ("kecamatan", "status_hidup"), ("anak",)]:
        for where in (None, Cmp("anak", "gte", 1), Cmp("nik", "eq", "nobody")):
            q = AggregateQuery(DS, group_by, where, measures)
            got, want = await adapter.aggregate(q), await sql.aggregate(q)
            assert [r[:-1] for r in got] == [r[:-1] for r in want], (group_by, where)
            assert [r[-1] for r in got] == pytest.approx([r[-1] for r in want])
    niks = [f"2102{i:012d}" for i in range(0, 400, 7)] + ["nope"]
    assert await adapter.lookup(DS, "nik", niks, FIELDS) == await sql.lookup(DS, "nik", niks, FIELDS)
    ages = (dt.date(1950, 1, 1), dt.date(1990, 6, 30))
    assert await adapter.lookup(DS, "kecamatan", ["Moro", "Tebing"], ("nik", "anak")) == await sql.lookup(
        DS, "kecamatan", ["Moro", "Tebing"], ("nik", "anak")
    )
    assert await adapter.lookup(DS, "tanggal_lahir", ages, FIELDS) == await sql.lookup(
        DS, "tanggal_lahir", ages, FIELDS
    )


async def test_xlsx_sheet_picks_the_sheet_and_dates_are_date_cells(
    files: dict[str, FileAdapter], sql: Adapter, penduduk: Binding
) -> None:
    path = files["xlsx"].path
    ws = openpyxl.load_workbook(path)["Penduduk"]
    born = ws.cell(3, 1 + COLUMNS[::-1].index("tanggal_lahir"))  # resident 1 (0 has no date)
    assert born.is_date and isinstance(born.value, dt.datetime)  # a real Excel date cell
    meral = FileAdapter("dukcapil.berkas", {"path": str(path), "sheet": "Meral"}, [penduduk])
    try:
        where = Cmp("kecamatan", "eq", "Meral")
        q = PageQuery(DS, FIELDS, None, ORDERS[2], None, 1000)
        assert await meral.fetch(q) == await sql.fetch(PageQuery(DS, FIELDS, where, ORDERS[2], None, 1000))
        assert await meral.count(DS, None) == await sql.count(DS, where) > 0
    finally:
        await meral.close()


# --- bad rows, bad files ---------------------------------------------------------------------

BAD_CSV = (
    "nik,nama,kecamatan,tanggal_lahir,is_alive,tinggi,saldo,anak\n"  # 1
    "1,Ani,Meral,2000-01-31,ya,150.5,10.5,1\n"  # 2 good
    "2,Budi,Meral,2000-02-30,ya,150,10,1\n"  # 3 no such date
    "3,Cici,Moro,2000-01-01,mungkin,150,10,empat\n"  # 4 not a boolean, not an integer
    "4,Dedi,Moro\n"  # 5 three cells
    '5,"Eka\nDua Baris",Tebing,,TIDAK,,,\n'  # 6-7 good: a quoted line break, empty cells
    "6,Fajar,Tebing,,1,tinggi sekali,,2\n"  # 8 not a float
    "1,Ganda,Meral,,0,,,\n"  # 9 repeated key
    ",Hadi,Meral,,0,,,\n"  # 10 no key
    "\n"  # 11 blank: not a row
    "7,Indah,Moro,1999-12-31,False,160,12345.67,2,,\n"  # 12 good
)


async def test_bad_rows_are_skipped_and_reported_without_values(
    tmp_path: Path, penduduk: Binding, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "penduduk.csv"
    path.write_text(BAD_CSV)
    adapter = FileAdapter("dukcapil.berkas", {"path": str(path)}, [penduduk])
    try:
        with caplog.at_level(logging.WARNING, logger="adapters.files"):
            rows = await adapter.fetch(PageQuery(DS, FIELDS, None, (Order("nik"),)))
        assert rows == [
            ("1", "Ani", "Meral", dt.date(2000, 1, 31), True, 150.5, Decimal("10.5"), 1),
            ("5", "Eka\nDua Baris", "Tebing", None, False, None, None, None),
            ("7", "Indah", "Moro", dt.date(1999, 12, 31), False, 160.0, Decimal("12345.67"), 2),
        ]
        found = [(p.file, p.line, p.column) for p in adapter.problems]
        assert found == [(str(path), 3, "tanggal_lahir"), (str(path), 4, "is_alive"), (str(path), 4, "anak"),
                         (str(path), 5, None), (str(path), 8, "tinggi"), (str(path), 9, "nik"),
                         (str(path), 10, "nik")]  # fmt: skip
        told = " ".join(str(p) for p in adapter.problems) + caplog.text
        for value in ("2000-02-30", "mungkin", "empat", "sekali", "Ganda", "Hadi", "Dedi"):
            assert value not in told
        (record,) = [r for r in caplog.records if "bad rows" in r.getMessage()]
        assert record.levelno == logging.WARNING and "dukcapil.berkas" in record.getMessage()
        assert "skipped 6 bad rows" in record.getMessage() and str(path) in record.getMessage()
    finally:
        await adapter.close()


async def test_bad_xlsx_rows_are_reported_by_sheet_row(tmp_path: Path, penduduk: Binding) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(COLUMNS)
    ws.append(["1", "Ani", "Meral", dt.date(2000, 1, 31), True, 150.5, 10.5, 1])
    ws.append([])  # row 3: blank
    ws.append(["2", "Budi", "Meral", dt.datetime(2000, 1, 31, 13, 30), True, 150.5, 10.5, 1])  # not a date
    ws.append(["3", "Cici", "Moro", "2001-02-03", 1, 150, 1, 2.5])  # not an integer
    ws.append([4, "Dedi", "Moro", None, "tidak", "170,5", "1,25", 0.0])  # a number in a string field
    ws.append(["5", "Eka", "Moro", None, "ya", 150, 1, "1.000"])  # thousands separator: ambiguous
    path = tmp_path / "penduduk.xlsx"
    wb.save(path)
    adapter = FileAdapter("dukcapil.berkas", {"path": str(path)}, [penduduk])
    try:
        rows = await adapter.fetch(PageQuery(DS, FIELDS, None, (Order("nik"),)))
        assert rows == [
            ("1", "Ani", "Meral", dt.date(2000, 1, 31), True, 150.5, Decimal("10.5"), 1),
            ("4", "Dedi", "Moro", None, False, 170.5, Decimal("1.25"), 0),
        ]
        assert [(p.line, p.column) for p in adapter.problems] == [
            (4, "tanggal_lahir"),
            (5, "anak"),
            (7, "anak"),
        ]
    finally:
        await adapter.close()


async def test_missing_file_sheet_or_column_is_a_source_error(tmp_path: Path, penduduk: Binding) -> None:
    missing = FileAdapter("dukcapil.berkas", {"path": str(tmp_path / "nope.csv")}, [penduduk])
    with pytest.raises(SourceError, match=r"nope\.csv"):
        await missing.count(DS, None)
    with pytest.raises(SourceError, match=r"nope\.csv: No such file or directory"):
        await missing.health()
    (tmp_path / "no_anak.csv").write_text(",".join(COLUMNS[:-1]) + "\n1,Ani,Meral,,1,150,1,\n")
    no_column = FileAdapter("dukcapil.berkas", {"path": str(tmp_path / "no_anak.csv")}, [penduduk])
    with pytest.raises(SourceError, match="'anak'"):
        await no_column.fetch(PageQuery(DS, FIELDS))
    no_sheet = FileAdapter(
        "dukcapil.berkas", {"path": str(write_xlsx(tmp_path / "p.xlsx", [])), "sheet": "Karimun"}, [penduduk]
    )
    with pytest.raises(SourceError, match="'Karimun'"):
        await no_sheet.count(DS, None)
    (tmp_path / "big.csv").write_text(BAD_CSV)  # nine rows
    big = FileAdapter("dukcapil.berkas", {"path": str(tmp_path / "big.csv"), "max_rows": 2}, [penduduk])
    with pytest.raises(SourceError, match="max_rows=2"):
        await big.count(DS, None)
    for config, refusal in (
        ({"path": str(tmp_path / "p.txt")}, "`path` must end in .csv or .xlsx, not 'p.txt'"),
        ({"path": str(tmp_path / "p.csv"), "sheet": "A"}, "`sheet` applies to .xlsx files only"),
        ({}, "the file adapter needs `path`"),
    ):
        with pytest.raises(ValueError) as refused:
            FileAdapter("dukcapil.berkas", config, [penduduk])
        assert str(refused.value) == f"source dukcapil.berkas: {refusal}"
    for a in (missing, no_column, no_sheet, big):
        await a.close()


# --- reloading ----------------------------------------------------------------------------------


async def reload_scenario(kind: str, tmp_path: Path, people: list[dict[str, Any]], penduduk: Binding) -> None:
    path = write(kind, tmp_path / "penduduk", people[:10])
    adapter = FileAdapter("dukcapil.berkas", {"path": str(path)}, [penduduk])

    def replace(content: bytes) -> None:  # as a careful exporter does, so no check sees half a file
        staged = tmp_path / f"next-{kind}"
        staged.write_bytes(content)
        os.replace(staged, path)

    def rewrite(rows: list[dict[str, Any]]) -> None:
        replace(write(kind, tmp_path / "staged", rows).read_bytes())

    async def count_is(n: int) -> bool:  # concurrent calls while a reload swaps the data
        counts = await asyncio.gather(*(adapter.count(DS, None) for _ in range(5)))
        assert set(counts) <= {n - 1, n}
        return counts[-1] == n

    async def failed() -> bool:
        await adapter.health()  # still serving the last good rows
        return adapter.error is not None

    try:
        assert await adapter.count(DS, None) == 10
        rewrite(people[:11])
        assert await eventually(lambda: count_is(11), 4, "11 rows read from the file") < 3
        assert await adapter.lookup(DS, "nik", [people[10]["nik"]], ("nik",)) == [(people[10]["nik"],)]
        if kind == "csv":
            replace((",".join(COLUMNS[:-1]) + "\n" + people[0]["nik"] + ",x,x,,1,1,1\n").encode())
        else:
            replace(path.read_bytes()[:200])  # a truncated workbook
        await eventually(failed, 4, "the broken file to be reported")
        assert await adapter.count(DS, None) == 11
        assert ("'anak'" if kind == "csv" else "Zip") in (adapter.error or "")
        rewrite(people[:12])
        await eventually(lambda: count_is(12), 4, "12 rows read from the mended file")
        assert adapter.error is None
    finally:
        await adapter.close()


async def test_a_changed_file_is_reloaded_and_a_broken_one_keeps_the_last_good_rows(
    tmp_path: Path, sqlite_regency: Regency, penduduk: Binding, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.files"):
        await asyncio.gather(
            *(reload_scenario(kind, tmp_path, sqlite_regency.people, penduduk) for kind in ("csv", "xlsx"))
        )
    kept = [r.getMessage() for r in caplog.records if "keeping the last good data" in r.getMessage()]
    assert len(kept) == 2  # once per broken file, not once per check


# --- through the hub ------------------------------------------------------------------------------

PAGE = """query($where: DukcapilPendudukWhere, $orderBy: [DukcapilPendudukOrderBy!], $after: String,
               $aggWhere: DukcapilPendudukAggregateWhere) {
  dukcapil { penduduk(where: $where, orderBy: $orderBy, first: 25, after: $after) {
    totalCount
    nodes { nik nama kecamatan tanggalLahir statusHidup tinggi saldo anak }
    pageInfo { hasNextPage endCursor }
  }
  pendudukAggregate(groupBy: [kecamatan], where: $aggWhere) {
    group { kecamatan } count sum { anak saldo } min { tanggalLahir } max { nama } } }
}"""

VARIABLES: list[dict[str, Any]] = [
    {
        "where": {"kecamatan": {"in": ["Meral", "Moro"]}, "anak": {"gte": 1}},
        "orderBy": [{"tinggi": "DESC"}],
        "aggWhere": {"kecamatan": {"in": ["Meral", "Moro"]}, "anak": {"gte": 1}},
    },
    {
        "where": {"or": [{"statusHidup": {"eq": False}}, {"tanggalLahir": {"isNull": True}}]},
        "aggWhere": {"not": {"statusHidup": {"eq": True}}},
    },
    {"orderBy": [{"saldo": "ASC"}]},
]


async def test_a_hub_answers_from_the_file_as_from_sql(
    tmp_path: Path, files: dict[str, FileAdapter], sqlite_regency: Regency
) -> None:
    source = {"adapter": "file", "path": str(files["xlsx"].path), "sheet": "Penduduk", "timeout": 5}
    residents = catalogs.penduduk("berkas", relationships={})  # served alone: no Dinsos to join
    dukcapil = catalogs.opd_file(catalogs.DUKCAPIL, {"berkas": source}, {"penduduk": residents})
    catalogs.write_opd(tmp_path / "schema", dukcapil)
    hub, client = await start_hub(tmp_path)
    try:

        async def ask(variables: dict[str, Any]) -> dict[str, Any]:
            r = await client.post("/graphql", json={"query": PAGE, "variables": variables})
            body: dict[str, Any] = r.json()
            assert "errors" not in body, body
            return body["data"]["dukcapil"]  # type: ignore[no-any-return]

        for variables in VARIABLES:
            mine, theirs = await ask(variables), (await sqlite_regency.data(PAGE, variables))["dukcapil"]
            for _ in range(3):
                assert mine["pendudukAggregate"] == theirs["pendudukAggregate"]
                a, b = mine["penduduk"], theirs["penduduk"]
                assert a["nodes"]
                assert (a["totalCount"], a["nodes"]) == (b["totalCount"], b["nodes"]), variables
                assert a["pageInfo"]["hasNextPage"] == b["pageInfo"]["hasNextPage"]
                if not a["pageInfo"]["hasNextPage"]:
                    break
                mine = await ask({**variables, "after": a["pageInfo"]["endCursor"]})
                theirs = (
                    await sqlite_regency.data(PAGE, {**variables, "after": b["pageInfo"]["endCursor"]})
                )["dukcapil"]
    finally:
        await client.aclose()
        await hub.close()
