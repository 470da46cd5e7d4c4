"""Consistency of the cell-key method: the same records give the same published count
however the question is put, in every hub process and after a restart.

Two `hub serve` processes share a SQLite store and no HUB_DISCLOSURE_KEY is set: the
first to start draws the key and keeps it in the store, the other reads it (both start
at once, so they race for it). Each answers twenty-three formulations of the same
welfare cells (groupBy orders, a repeated groupBy field, margins filtered down to the
cell, `in` versus `or`, ranges, De Morgan, aliases, selection order); then a third
process, started after the first two stopped, answers them again. Every answer must be
the count computed here from the demo's rows and the key in the store.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from hub.catalog import load_catalog
from tests.support.demo import demo_regency
from tests.support.disclosure import published_count
from tests.support.hubcli import hub_env, running_hubs

REPO = Path(__file__).resolve().parents[1]
Cell = tuple[str, str, int]  # (kecamatan, program, tahun)
Where = dict[str, Any]
FIELDS = ("kecamatan", "program", "tahun")


def eq(field: str, value: Any) -> Where:
    return {field: {"eq": value}}


def formulations(cell: Cell, other: str) -> list[tuple[Where | None, list[str]]]:
    """(where, groupBy) pairs whose answers all hold the cell; `other` is another kecamatan."""
    k, p, t = cell
    three = {"kecamatan": {"eq": k}, "program": {"eq": p}, "tahun": {"eq": t}}
    return [
        (None, ["kecamatan", "program", "tahun"]),
        (None, ["tahun", "program", "kecamatan"]),
        (None, ["program", "kecamatan", "tahun"]),
        (None, ["kecamatan", "kecamatan", "program", "tahun"]),
        (three, []),
        ({"and": [eq("kecamatan", k), eq("program", p), eq("tahun", t)]}, []),
        ({"kecamatan": {"in": [k]}, "program": {"in": [p]}, "tahun": {"in": [t]}}, []),
        ({"and": [{"or": [eq("kecamatan", k)]}, eq("program", p), eq("tahun", t)]}, []),
        ({"kecamatan": {"eq": k}, "program": {"eq": p}, "tahun": {"gte": t, "lte": t}}, []),
        ({"kecamatan": {"eq": k}, "program": {"eq": p}, "tahun": {"gt": t - 1, "lt": t + 1}}, []),
        ({"not": {"or": [{f: {"neq": v}} for f, v in zip(FIELDS, cell, strict=True)]}}, []),
        ({"and": [eq("program", p), {"and": [eq("tahun", t), eq("kecamatan", k)]}]}, []),
        ({"kecamatan": {"eq": k}, "program": {"eq": p}, "tahun": {"in": [t, t + 100]}}, []),
        (eq("kecamatan", k), ["program", "tahun"]),
        (eq("program", p), ["kecamatan", "tahun"]),
        (eq("tahun", t), ["kecamatan", "program"]),
        ({"program": {"eq": p}, "tahun": {"eq": t}}, ["kecamatan"]),
        ({"kecamatan": {"eq": k}, "tahun": {"eq": t}}, ["program"]),
        ({"kecamatan": {"eq": k}, "program": {"eq": p}}, ["tahun"]),
        ({"kecamatan": {"in": [k, other]}}, ["kecamatan", "program", "tahun"]),
        ({"or": [eq("kecamatan", other), eq("kecamatan", k)]}, ["tahun", "kecamatan", "program"]),
        ({"kecamatan": {"in": [other, k]}, "program": {"in": [p]}}, ["tahun", "kecamatan"]),
        ({"kecamatan": {"nin": [other]}, "program": {"eq": p}, "tahun": {"eq": t}}, ["kecamatan"]),
    ]


def query(group_by: list[str], variant: int) -> str:
    """The aggregate, its selection in one of three shapes: group first, count first,
    or under an alias beside a second field."""
    group = f"group {{ {' '.join(group_by)} }}" if group_by else ""
    selection = [f"{group} count", f"count {group}", f"count {group} __typename"][variant % 3]
    name = "cell: penerimaBansosAggregate" if variant % 3 == 2 else "penerimaBansosAggregate"
    extra = " total: penerimaBansosAggregate { count }" if variant % 3 == 2 else ""
    return (
        f"query($w: DinsosPenerimaBansosAggregateWhere, $g: [DinsosPenerimaBansosField!]) {{ dinsos {{ "
        f"{name}(where: $w, groupBy: $g) {{ {selection} }}{extra} }} }}"
    )


def pick(groups: list[dict[str, Any]], cell: Cell) -> int:
    """The cell's count in the answer (0 when it is not listed)."""
    wanted = dict(zip(FIELDS, cell, strict=True))
    found = [g["count"] for g in groups if all(wanted[f] == v for f, v in (g.get("group") or {}).items())]
    assert len(found) <= 1, found
    return int(found[0]) if found else 0


async def answers(base: str, cells: list[Cell], other: Callable[[Cell], str]) -> dict[Cell, list[int]]:
    out: dict[Cell, list[int]] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for cell in cells:
            got = []
            for i, (where, group_by) in enumerate(formulations(cell, other(cell))):
                variables = {"w": where, "g": group_by}
                r = await client.post(
                    "/public/graphql", json={"query": query(group_by, i), "variables": variables}
                )
                body = r.json()
                assert r.status_code == 200 and "errors" not in body, (cell, where, group_by, body)
                groups = next(iter(body["data"]["dinsos"].values()))
                got.append(pick(groups, cell))
            out[cell] = got
    return out


async def test_twenty_three_formulations_two_processes_and_a_restart_agree(tmp_path: Path) -> None:
    with demo_regency(tmp_path / "demo", residents=10_000) as data:
        conn = sqlite3.connect(data / "dinsos.db")
        rows = conn.execute("SELECT id, kecamatan, program, tahun FROM penerima_bansos").fetchall()
        conn.close()
        by_cell: dict[Cell, list[dict[str, Any]]] = {}
        for id_, k, p, t in rows:
            by_cell.setdefault((k, p, t), []).append({"id": id_})
        sizes = Counter({c: len(rs) for c, rs in by_cell.items()})
        small = sorted(c for c, n in sizes.items() if n < 5)[:6]
        large = [c for c, _ in sizes.most_common(2)]
        cells = small + large
        places = sorted({c[0] for c in by_cell})
        other = lambda c: next(k for k in places if k != c[0])  # noqa: E731

        env = hub_env(HUB_DEMO_DIR=str(data), HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
        serve = (
            "serve",
            "--schema",
            str(REPO / "schema"),
            "--policies",
            str(REPO / "policies"),
            "--port",
            "0",
        )
        with running_hubs(
            *serve, cwd=tmp_path, env=env, logs=[tmp_path / "a.log", tmp_path / "b.log"]
        ) as hubs:
            seen = [await answers(h.base, cells, other) for h in hubs]
        with running_hubs(*serve, cwd=tmp_path, env=env, logs=[tmp_path / "c.log"]) as (restarted,):
            seen.append(await answers(restarted.base, cells, other))

        store = sqlite3.connect(tmp_path / "hub.db")
        (secret,) = store.execute("SELECT value FROM hub_secret WHERE name = 'disclosure_key'").fetchone()
        store.close()
        ds = load_catalog(REPO / "schema").dataset("dinsos.penerima_bansos")
        want = {c: published_count(secret, ds, by_cell[c]) for c in cells}
        for got in seen:
            assert got == {c: [want[c]] * len(formulations(c, other(c))) for c in cells}, json.dumps(
                {str(c): (want[c], got[c]) for c in cells}
            )
        assert all(want[c] != sizes[c] for c in small)  # and no small count published as itself
