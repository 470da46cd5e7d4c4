"""Aggregates through HTTP against a real hub on SQLite (docs/design.md §5): groups
smaller than the dataset's minimum are suppressed for who may only aggregate and shown
to who may read; a bare count needs `aggregate` on some field, and grouping, filtering
or measuring a field needs `aggregate` on that field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.authz import PEOPLE, Town, forbidden, stored_groups

GROUPS = """{ dukcapil { pendudukAggregate(groupBy: [kecamatan, statusHidup]) {
  group { kecamatan statusHidup } count suppressed sum { anak } MAX } } }"""


def groups(with_max: bool) -> str:
    return GROUPS.replace("MAX", "max { anak }" if with_max else "")


def check_groups(answer: list[dict[str, Any]], exempt: bool) -> None:
    stored = stored_groups()
    got = {(g["group"]["kecamatan"], g["group"]["statusHidup"]): g for g in answer}
    assert set(got) == set(stored)
    small = [k for k, rows in stored.items() if len(rows) < 5]
    assert small, "the data has no small group to suppress"
    for k, rows in stored.items():
        anak = [p["anak"] for p in rows if p["anak"] is not None]
        shown = {"count": len(rows), "suppressed": False, "sum": {"anak": sum(anak)}}
        hidden = {"count": None, "suppressed": True, "sum": None}
        if exempt:
            shown["max"] = {"anak": max(anak)}
        want = shown if exempt or len(rows) >= 5 else hidden
        assert {f: got[k][f] for f in want} == want, k


async def test_small_groups_are_suppressed_for_who_may_only_aggregate(town: Town) -> None:
    body = await town.post("user:counter", groups(with_max=False))
    assert "errors" not in body, body
    check_groups(body["data"]["dukcapil"]["pendudukAggregate"], exempt=False)


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
    check_groups(body["data"]["dukcapil"]["pendudukAggregate"], exempt=True)


async def test_a_bare_count_needs_aggregate_on_some_field(town: Town) -> None:
    query = "{ dukcapil { pendudukAggregate { count suppressed } } }"
    body = await town.post("user:counter", query)
    assert body["data"]["dukcapil"]["pendudukAggregate"] == [{"count": len(PEOPLE), "suppressed": False}]
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
