"""A PostgreSQL source keeps a statement shape's compiled text from its second call, and
at most `COMPILED_KEPT` of them, the least recently used going first (adapters/sql_pg.py): a flood of
odd shapes, each asked for once, neither fills the process nor pushes out the shapes
real clients ask for."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from adapters import sql_pg
from adapters.sql_pg import Binds, PgRunner

PENDUDUK = sa.table("penduduk", sa.column("nik"), sa.column("kecamatan"))


def runner() -> PgRunner:
    return PgRunner("s", sa.make_url("postgresql://hub@127.0.0.1/none"), postgresql.dialect(), 1)


def by(column: str) -> Any:
    def build(binds: Binds) -> Any:
        return sa.select(PENDUDUK.c.nik).where(PENDUDUK.c[column] == binds("x", sa.String()))

    return build


def test_a_shape_is_kept_from_its_second_call() -> None:
    pg = runner()
    first, second = (pg.compile("nik", by("nik"), ["x"]) for _ in range(2))
    assert first is not second and first.sql == second.sql
    assert pg.compile("nik", by("nik"), ["x"]) is second


def test_the_least_recently_used_shapes_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shape in use stays however many newer ones come after it: before, the oldest
    added went first, and a hot shape was compiled again after COMPILED_KEPT newer ones."""
    monkeypatch.setattr(sql_pg, "COMPILED_KEPT", 2)
    pg = runner()
    kept = {}
    for key in ("a", "b", "c", "d"):
        for _ in range(2):
            kept[key] = pg.compile(key, by("nik"), ["x"])
        assert pg.compile("a", by("nik"), ["x"]) is kept["a"]  # in use: still kept
    assert pg.compile("d", by("nik"), ["x"]) is kept["d"]
    assert pg.compile("c", by("nik"), ["x"]) is not kept["c"]  # the least recently used, gone
