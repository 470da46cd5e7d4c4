"""Aggregates through HTTP against a real hub on SQLite (docs/design.md §5): counts and
sums are perturbed by the cell-key method for who may only aggregate (the town's
residents keep the default `disclosure`) and exact for who may read; a bare count needs
`aggregate` on some field, and grouping, filtering or measuring a field needs
`aggregate` on that field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.authz import PEOPLE, Town, forbidden, stored_groups
from tests.support.disclosure import published_count, sum_within_bounds

GROUPS = """{ dukcapil { pendudukAggregate(groupBy: [kecamatan, statusHidup]) {
  group { kecamatan statusHidup } count suppressed perturbed sum { anak } MAX } } }"""


def groups(with_max: bool) -> str:
    return GROUPS.replace("MAX", "max { anak }" if with_max else "")


def check_groups(town: Town, answer: list[dict[str, Any]], exempt: bool) -> None:
    """Exact groups, or the published ones: a group is listed when its published count
    is not 0, and then holds that count and a sum within the method's bounds."""
    stored = stored_groups()
    ds = town.regency.hub.catalog.dataset("dukcapil.penduduk")
    got = {(g["group"]["kecamatan"], g["group"]["statusHidup"]): g for g in answer}
    assert any(len(rows) < 5 for rows in stored.values()), "the data has no small group"
    listed = set()
    for k, rows in stored.items():
        anak = [p["anak"] for p in rows if p["anak"] is not None]
        if exempt:
            want = {"count": len(rows), "suppressed": False, "perturbed": False, "sum": {"anak": sum(anak)}}
            assert {f: got[k][f] for f in [*want, "max"]} == {**want, "max": {"anak": max(anak)}}, k
            listed.add(k)
            continue
        count = published_count(town.regency.hub.disclosure_key, ds, rows)
        if count == 0:
            continue
        listed.add(k)
        g = got[k]
        assert (g["count"], g["suppressed"], g["perturbed"]) == (count, False, True), k
        assert len(rows) >= 5 or g["count"] != len(rows), k
        assert sum_within_bounds(ds, anak, g["sum"]["anak"]), (k, anak, g)
    assert set(got) == listed


async def test_counts_and_sums_are_perturbed_for_who_may_only_aggregate(town: Town) -> None:
    body = await town.post("user:counter", groups(with_max=False))
    assert "errors" not in body, body
    check_groups(town, body["data"]["dukcapil"]["pendudukAggregate"], exempt=False)


@pytest.mark.parametrize("measure", ["min", "max"])
async def test_min_and_max_need_read_as_they_are_one_records_value(town: Town, measure: str) -> None:
    """In a group of one, the largest benefit is that recipient's benefit: who may only
    aggregate a field gets its sum and average, never its extremes."""
    query = f"{{ dukcapil {{ pendudukAggregate(groupBy: [kecamatan]) {{ count {measure} {{ anak }} }} }} }}"
    body = await town.post("user:counter", query)
    assert body["data"] == {"dukcapil": {"pendudukAggregate": None}}
    assert forbidden(body) == [["dukcapil", "pendudukAggregate"]]
    assert (
        f"{measure} of" in body["errors"][0]["message"]
        and "ask for sum or avg" in body["errors"][0]["message"]
    )
    assert "errors" not in await town.post("user:reader", query)


async def test_small_groups_are_shown_to_who_may_read(town: Town) -> None:
    body = await town.post("user:reader", groups(with_max=True))
    assert "errors" not in body, body
    check_groups(town, body["data"]["dukcapil"]["pendudukAggregate"], exempt=True)


async def test_a_bare_count_needs_aggregate_on_some_field(town: Town) -> None:
    query = "{ dukcapil { pendudukAggregate { count perturbed } } }"
    body = await town.post("user:counter", query)
    count = published_count(
        town.regency.hub.disclosure_key, town.regency.hub.catalog.dataset("dukcapil.penduduk"), PEOPLE
    )
    assert body["data"]["dukcapil"]["pendudukAggregate"] == [{"count": count, "perturbed": True}]
    body = await town.post("user:matcher", query)  # match only: no count
    assert body["data"] == {"dukcapil": {"pendudukAggregate": None}}
    assert forbidden(body) == [["dukcapil", "pendudukAggregate"]]


@pytest.mark.parametrize(
    "query",
    [
        "{ dukcapil { pendudukAggregate(groupBy: [nama]) { count } } }",
        "{ dukcapil { pendudukAggregate(groupBy: [kecamatan, tinggi]) { count } } }",
        '{ dukcapil { pendudukAggregate(groupBy: [kecamatan], where: {nama: {eq: "ani"}}) { count } } }',
        "{ dukcapil { pendudukAggregate(groupBy: [kecamatan]) { count max { saldo } } } }",
    ],
    ids=["groupBy", "groupBy one of two", "where", "measure"],
)
async def test_aggregating_a_field_without_aggregate_is_forbidden(town: Town, query: str) -> None:
    body = await town.post("user:counter", query)
    assert body["data"] == {"dukcapil": {"pendudukAggregate": None}}
    assert forbidden(body) == [["dukcapil", "pendudukAggregate"]]
