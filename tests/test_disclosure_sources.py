"""Perturbed aggregates end to end on every SQL source (the cell key computed inside the
statement: SQLite through a registered function, PostgreSQL, MariaDB): each group's
published count is the one computed here from its rows and the key, sums stay within
the method's bounds, and SQLite and MariaDB (both SHA-1) publish the very same values for
the same rows under one key (PostgreSQL hashes with its own seeded function). A dataset with `disclosure: {method: suppress}` keeps suppression,
and its audit record says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.audit.log import records
from tests.support.catalogs import penduduk
from tests.support.databases import BACKENDS
from tests.support.disclosure import published_count, sum_within_bounds
from tests.support.regency import client_for, start_regency, write_policies

RULES = """p, user:counter, dukcapil.penduduk.kecamatan, aggregate, allow
p, user:counter, dukcapil.penduduk.status_hidup, aggregate, allow
p, user:counter, dukcapil.penduduk.anak, aggregate, allow
"""
QUERY = """{ dukcapil { pendudukAggregate(groupBy: [kecamatan, statusHidup], where: {anak: {gte: 0}}) {
  group { kecamatan statusHidup } count suppressed perturbed sum { anak } avg { anak } } } }"""


async def published_groups(kind: str, tmp: Path, **dataset: Any) -> tuple[list[dict[str, Any]], Any]:
    """QUERY as user:counter on `kind`, with the key fixed; and the regency's rows."""
    write_policies(tmp / "policies", RULES)
    regency = await start_regency(kind, tmp, residents=penduduk(**dataset), disclosure_key="one key")
    try:
        client = await client_for(regency.hub, "user:counter")
        r = await client.post("/graphql", json={"query": QUERY})
        await client.aclose()
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, r.text
        audited = [row async for row in records(regency.hub.store)]
        return body["data"]["dukcapil"]["pendudukAggregate"], (regency, audited)
    finally:
        await regency.close()


def cells(people: list[dict[str, Any]]) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
    out: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for p in people:
        if p["anak"] is not None and p["anak"] >= 0:
            out.setdefault((p["kecamatan"], p["is_alive"]), []).append(p)
    return out


def shown(key: tuple[Any, Any], count: int, least: int = 7) -> tuple[Any, Any]:
    """The group's key as published: status_hidup is internal, so a group whose published
    count is below min_group_size + max_noise (7; suppression: below 5) does not show it."""
    return key if count >= least else (key[0], None)


async def test_every_sql_source_publishes_the_same_perturbed_groups(tmp_path: Path) -> None:
    answers = {}
    for kind in BACKENDS:
        groups, (regency, audited) = await published_groups(kind, tmp_path / kind)
        ds = regency.hub.catalog.dataset("dukcapil.penduduk")
        by_cell = cells(regency.people)
        want = {k: published_count("one key", ds, rows) for k, rows in by_cell.items()}
        got = sorted(
            (((g["group"]["kecamatan"], g["group"]["statusHidup"]), g["count"]) for g in groups), key=repr
        )
        assert got == sorted(((shown(k, n), n) for k, n in want.items() if n), key=repr), kind
        assert any(k[1] is None for k, _ in got) and any(k[1] is not None for k, _ in got)
        for g in groups:
            key = (g["group"]["kecamatan"], g["group"]["statusHidup"])
            anak = [[p["anak"] for p in rows] for k, rows in by_cell.items() if shown(k, want[k]) == key]
            assert (g["suppressed"], g["perturbed"]) == (False, True)
            assert any(sum_within_bounds(ds, values, g["sum"]["anak"]) for values in anak), (kind, g)
            assert g["avg"]["anak"] == pytest.approx(g["sum"]["anak"] / g["count"])
        assert [json.loads(a.disclosure) for a in audited] == [["dukcapil.penduduk:cell_key"]]
        answers[kind] = groups
    assert answers["sqlite"] == answers["mariadb"] != answers["postgresql"]


async def test_a_dataset_may_keep_suppression(tmp_path: Path) -> None:
    groups, (regency, audited) = await published_groups("sqlite", tmp_path, disclosure={"method": "suppress"})
    true = {k: len(rows) for k, rows in cells(regency.people).items()}
    got = [
        ((g["group"]["kecamatan"], g["group"]["statusHidup"]), g["count"], g["suppressed"]) for g in groups
    ]
    want = [(shown(k, n, 5), None if n < 5 else n, n < 5) for k, n in true.items()]
    assert sorted(got, key=repr) == sorted(want, key=repr)
    assert all(g["perturbed"] is False and (g["sum"] is None) == g["suppressed"] for g in groups)
    hidden = sum(n < 5 for n in true.values())
    assert hidden and [(json.loads(a.disclosure), a.records) for a in audited] == [
        (["dukcapil.penduduk:suppress"], hidden)
    ]
