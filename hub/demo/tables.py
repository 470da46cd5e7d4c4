"""A generated table and how it is written to SQLite.

Storage conventions, shared by every demo table so the hub reads them through SQLAlchemy
without surprises: dates are ISO text `YYYY-MM-DD`, booleans INTEGER 0/1, money INTEGER
rupiah; the dataset key is the PRIMARY KEY; commonly filtered columns are indexed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Value = str | int | None
Row = tuple[Value, ...]

CHUNK = 5_000


@dataclass(frozen=True, kw_only=True)
class Table:
    """One table: columns as `(name, SQL type and constraints)`, in row order."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: str
    indexes: tuple[str, ...] = ()
    rows: Sequence[Row]

    def ddl(self) -> list[str]:
        cols = ",\n  ".join(
            f"{name} {sql} PRIMARY KEY" if name == self.key else f"{name} {sql}" for name, sql in self.columns
        )
        out = [f"CREATE TABLE {self.name} (\n  {cols}\n)"]
        out += [f"CREATE INDEX ix_{self.name}_{col} ON {self.name} ({col})" for col in self.indexes]
        return out


def write(path: Path, tables: Sequence[Table], advance: Callable[[str, int], None]) -> None:
    """Create `path` (which must not exist) holding `tables`; call `advance(table, rows)` per chunk."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.execute("BEGIN")
        for table in tables:
            for statement in table.ddl():
                con.execute(statement)
            marks = ", ".join("?" * len(table.columns))
            insert = f"INSERT INTO {table.name} VALUES ({marks})"
            for start in range(0, len(table.rows), CHUNK):
                chunk = table.rows[start : start + CHUNK]
                con.executemany(insert, chunk)
                advance(table.name, len(chunk))
        con.execute("ANALYZE")
        con.execute("COMMIT")
    finally:
        con.close()
