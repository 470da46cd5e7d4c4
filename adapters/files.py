"""File sources: one CSV or XLSX file per source, served through the SQL adapter.

```yaml
sources:
  harga:
    adapter: file
    path: ${DATA_DIR:-data}/ssh.xlsx     # .csv or .xlsx (relative to the working directory)
    sheet: SSH 2025                      # .xlsx only; default: the first sheet
    max_rows: 50000                      # a larger file is refused (the log says so)
datasets:
  ssh:
    source: harga
    key: kode
    fields:
      kode:  {type: string, classification: public, column: Kode Barang}
      harga: {type: decimal, classification: public, column: Harga}
```

The first row holds the headers; a field reads the column named by `column:` (default
the field name; matched exactly, else ignoring case). CSV files may use `,` or `;`
(Indonesian Excel exports) and may start with a UTF-8 BOM. Numbers may use a decimal
comma (`170,5`) but no thousands separators; integers are plain digits. Booleans read
true/false/ya/tidak/1/0 (any case), dates ISO text or Excel date cells, formulas their
cached values; an empty cell is NULL.

A row that cannot be read (a value not of its field's type, a missing or repeated key,
a CSV row with the wrong number of cells) is skipped, recorded in `problems` (file,
line, column; never the value) and summarised in the log. A missing file, sheet or
header column is a `SourceError`.

The rows are loaded into a private in-memory SQLite database (aiosqlite; SQLAlchemy
gives in-memory URLs a StaticPool: one connection holds the database) and `SqlAdapter`
answers every call over it, so filters, ordering, keyset pages, counts and aggregates
mean exactly what they mean for SQL sources. In memory rather than a temp file: nothing
to clean up or leave behind after a crash, no disk I/O, and a reload builds a whole new
database beside the old one and swaps it in with one assignment; the old one closes once
its in-flight calls are done. The file is checked for changes (mtime, size) at most once
a second, on the next call; a reload that fails keeps the last good data and logs why.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import sqlalchemy as sa

from adapters.base import Adapter, AggregateQuery, Binding, Filter, PageQuery, Row, SourceError
from adapters.sql import SqlAdapter
from adapters.sql_table import SQL_TYPES

log = logging.getLogger("adapters.files")
CHECK_EVERY = 1.0  # seconds between checks of the file for changes
MEMORY_URL = "sqlite+aiosqlite://"
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_BOOLEANS = {"true": True, "ya": True, "1": True, "false": False, "tidak": False, "0": False}


@dataclass(frozen=True)
class RowProblem:
    """Why a row was skipped: where, never what the value was."""

    file: str
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" + (f" column {self.column!r}" if self.column else "")
        return f"{where}: {self.message}"


def convert(kind: str, v: Any) -> Any:
    """A non-empty cell as a value of catalog type `kind`; ValueError or KeyError if it is none."""
    if kind == "string":
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    if kind == "boolean":
        return bool(v) if isinstance(v, int | float) and v in (0, 1) else _BOOLEANS[str(v).strip().casefold()]
    if kind in ("date", "datetime"):  # an Excel date cell arrives as a datetime
        if isinstance(v, dt.datetime) and kind == "date":
            if v.time() != dt.time():
                raise ValueError
            return v.date()
        if isinstance(v, dt.date):
            return v if kind == "date" or isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)
        return (dt.date if kind == "date" else dt.datetime).fromisoformat(str(v).strip())
    if isinstance(v, bool):
        raise ValueError
    if kind == "integer":  # plain digits: "1.000" is 1000 in an Indonesian file, 1 elsewhere
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()
        if not _INTEGER.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
            raise ValueError  # SQLite integers are 64-bit
        return int(text)
    text = str(v).strip()
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # a decimal comma; thousands separators are refused
    if not _NUMBER.fullmatch(text) or not math.isfinite(float(text)):
        raise ValueError  # (decimals are doubles in SQLite, so the float range applies)
    return float(text) if kind == "float" else Decimal(text)


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


@dataclass
class _Sheet:
    """A file as read: header, (line, cells) of each non-blank row, ragged rows."""

    file: str
    header: list[str]
    rows: list[tuple[int, Sequence[Any]]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def _csv_rows(path: Path) -> Generator[tuple[int, Sequence[Any]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # "CSV (Comma delimited)" from Excel on Windows
    first = text[: text.find("\n")] if "\n" in text else text
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    end = 0
    for cells in reader:  # a quoted cell may span lines: a row starts after the last one
        yield end + 1, cells
        end = reader.line_num


def _xlsx_rows(path: Path, sheet: str | None) -> Generator[tuple[int, Sequence[Any]]]:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise SourceError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
        yield from enumerate((workbook[sheet] if sheet else workbook.worksheets[0]).values, start=1)
    finally:
        workbook.close()


def _read(path: Path, rows: Iterator[tuple[int, Sequence[Any]]], max_rows: int, pad: bool) -> _Sheet:
    """The header and the rows; short rows are padded with empty cells if `pad`, else skipped."""
    _, header = next(rows, (0, ()))
    if all(_empty(h) for h in header):
        raise SourceError(f"{path}: no header row")
    sheet = _Sheet(str(path), ["" if h is None else str(h).strip() for h in header])
    for line, cells in rows:
        if all(_empty(c) for c in cells):
            continue
        if len(cells) > len(header) and all(_empty(c) for c in cells[len(header) :]):
            cells = cells[: len(header)]  # trailing empty cells
        if len(cells) == len(header) or (pad and len(cells) < len(header)):
            sheet.rows.append((line, (*cells, *[None] * (len(header) - len(cells)))))
        else:
            message = f"{len(cells)} cells, header has {len(header)}"
            sheet.problems.append(RowProblem(str(path), line, None, message))
        if len(sheet.rows) + len(sheet.problems) > max_rows:
            raise SourceError(f"{path}: more than max_rows={max_rows} rows; raise max_rows to serve it")
    return sheet


def _positions(sheet: _Sheet, b: Binding) -> dict[str, int]:
    """field -> index of its column in the header (exact name first, then ignoring case)."""
    exact = {h: i for i, h in reversed(list(enumerate(sheet.header)))}
    folded = {h.casefold(): i for i, h in reversed(list(enumerate(sheet.header)))}
    out: dict[str, int] = {}
    for f in b.types:
        column = b.columns.get(f, f)
        index = exact.get(column, folded.get(column.casefold()))
        if index is None:
            raise SourceError(f"{sheet.file}: no column {column!r} (field {f} of {b.name}) in the header")
        out[f] = index
    return out


def _records(sheet: _Sheet, b: Binding) -> tuple[list[dict[str, Any]], list[RowProblem]]:
    """The rows of one dataset, typed; and the rows skipped."""
    positions = _positions(sheet, b)
    records: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    keys: set[Any] = set()
    for line, cells in sheet.rows:
        record: dict[str, Any] = {}
        bad: list[RowProblem] = []
        for f, index in positions.items():
            column = sheet.header[index]
            try:
                record[f] = None if _empty(cells[index]) else convert(b.types[f], cells[index])
            except (ValueError, KeyError, ArithmeticError):
                bad.append(RowProblem(sheet.file, line, column, f"not a valid {b.types[f]}"))
        key = record.get(b.key)
        if not bad and (key is None or key in keys):
            column = sheet.header[positions[b.key]]
            bad.append(RowProblem(sheet.file, line, column, "empty key" if key is None else "repeated key"))
        problems += bad
        if not bad:
            keys.add(key)
            records.append(record)
    return records, problems


@dataclass
class _Loaded:
    """One generation of the data: its database and what was skipped loading it."""

    sql: SqlAdapter
    signature: tuple[int, int]
    problems: list[RowProblem]
    users: int = 0
    retired: bool = False


def _signature(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError as e:
        raise SourceError(f"{path}: {e.strerror or e}") from None
    return st.st_mtime_ns, st.st_size


class FileAdapter(Adapter):
    """Config keys: `path` (.csv or .xlsx), `sheet` (.xlsx), `max_rows`."""

    def __init__(self, name: str, config: Mapping[str, Any], bindings: Sequence[Binding]) -> None:
        if not config.get("path"):
            raise ValueError(f"source {name}: the file adapter needs `path`")
        self.name = name
        self.path = Path(str(config["path"]))
        self.kind = self.path.suffix.lower()
        if self.kind not in (".csv", ".xlsx"):
            raise ValueError(f"source {name}: `path` must end in .csv or .xlsx, not {self.path.name!r}")
        self.sheet: str | None = config.get("sheet")
        if self.sheet is not None and self.kind != ".xlsx":
            raise ValueError(f"source {name}: `sheet` applies to .xlsx files only")
        self.max_rows = int(config.get("max_rows") or 50_000)
        self.bindings = list(bindings)
        # Inside the private database: table t<i>, one column per field, named by the field.
        self._inner = [
            Binding(b.name, b.key, b.types, {f: f for f in b.types}, f"t{i}") for i, b in enumerate(bindings)
        ]
        self._data: _Loaded | None = None
        self.error: str | None = None  # why the last load failed, until one succeeds
        self._failed: tuple[int, int] | None = None  # the signature that failed to load
        self._next_check = 0.0
        self._task: asyncio.Future[None] | None = None

    @property
    def problems(self) -> list[RowProblem]:
        """The rows skipped when the data being served was loaded."""
        return list(self._data.problems) if self._data else []

    def _read(self, signature: tuple[int, int]) -> tuple[list[list[dict[str, Any]]], list[RowProblem]]:
        """Read and type the file (blocking: runs in a thread)."""
        rows = _csv_rows(self.path) if self.kind == ".csv" else _xlsx_rows(self.path, self.sheet)
        with closing(rows):
            sheet = _read(self.path, rows, self.max_rows, pad=self.kind == ".xlsx")
        if _signature(self.path) != signature:
            raise SourceError(f"{self.path}: changed while being read; trying again")
        tables = [_records(sheet, b) for b in self.bindings]
        problems = list(dict.fromkeys(sheet.problems + [p for _, ps in tables for p in ps]))
        return [records for records, _ in tables], sorted(problems, key=lambda p: p.line)

    async def _build(self, tables: list[list[dict[str, Any]]]) -> SqlAdapter:
        sql = SqlAdapter(self.name, {"url": MEMORY_URL}, self._inner)
        metadata = sa.MetaData()  # the tables of this generation
        try:
            async with sql.engine.begin() as conn:
                for b, records in zip(self._inner, tables, strict=True):
                    cols = [sa.Column(f, SQL_TYPES[t], primary_key=f == b.key, autoincrement=False)
                            for f, t in b.types.items()]  # fmt: skip
                    table = sa.Table(str(b.table), metadata, *cols)
                    await conn.run_sync(table.create)
                    if records:
                        await conn.execute(table.insert(), records)
        except BaseException:
            await sql.close()
            raise
        return sql

    async def _refresh(self) -> None:
        """Load the file if it changed since the last load; never raises."""
        try:
            signature = _signature(self.path)
            if self._data and signature == self._data.signature:
                self.error = None
                return
            if signature == self._failed:
                return
            self._failed = signature
            tables, problems = await asyncio.to_thread(self._read, signature)
            loaded = _Loaded(await self._build(tables), signature, problems)
        except Exception as e:
            reason = str(e) if isinstance(e, SourceError) else f"{self.path}: {type(e).__name__}: {e}"
            if reason != self.error:
                kept = "keeping the last good data" if self._data else "no data to serve"
                log.warning("source %s: cannot load the file (%s): %s", self.name, kept, reason)
            self.error = reason
            return
        finally:
            self._next_check = time.monotonic() + CHECK_EVERY
            self._task = None
        old, self._data, self.error, self._failed = self._data, loaded, None, None
        if problems:
            rows = len({p.line for p in problems})
            shown = "; ".join(str(p) for p in problems[:5]) + (" ..." if len(problems) > 5 else "")
            log.warning("source %s: skipped %d bad rows of %s: %s", self.name, rows, self.path, shown)
        await self._retire(old)

    @staticmethod
    async def _retire(data: _Loaded | None) -> None:
        """Close `data` now, or when its last in-flight call is done."""
        if data is not None:
            data.retired = True
            if data.users == 0:
                await data.sql.close()

    @asynccontextmanager
    async def _use(self) -> AsyncIterator[SqlAdapter]:
        """The current data, checked for changes, held open until the call is done."""
        if time.monotonic() >= self._next_check:
            if self._task is None:
                self._task = asyncio.ensure_future(self._refresh())
            await asyncio.shield(self._task)  # a caller's timeout does not abort a load
        data = self._data
        if data is None:
            raise SourceError(f"{self.name}: {self.error}")
        data.users += 1
        try:
            yield data.sql
        finally:
            data.users -= 1
            if data.retired and data.users == 0:
                await data.sql.close()

    async def fetch(self, query: PageQuery) -> list[Row]:
        async with self._use() as sql:
            return await sql.fetch(query)

    async def count(self, dataset: str, where: Filter | None) -> int:
        async with self._use() as sql:
            return await sql.count(dataset, where)

    async def lookup(
        self,
        dataset: str,
        field: str,
        values: Sequence[Any],
        fields: tuple[str, ...],
        limit: int | None = None,
    ) -> list[Row]:
        async with self._use() as sql:
            return await sql.lookup(dataset, field, values, fields, limit)

    async def aggregate(self, query: AggregateQuery) -> list[Row]:
        async with self._use() as sql:
            return await sql.aggregate(query)

    async def health(self) -> None:
        """There is data to serve (the last good load, even if the file broke since)."""
        async with self._use():
            return None

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)
        data, self._data = self._data, None
        await self._retire(data)
