"""A request's aggregates answer at most HUB_MAX_GROUPS groups together (hub/gql/groups.py):
up to the limit an answer, past it QUERY_TOO_COMPLEX naming the setting and no audit
record; two aggregates of one request share the limit; a grouping by related fields is
held to it too; and a source is asked for one group more than is left, never for every
group (AggregateQuery.limit), on SQLite, PostgreSQL, MariaDB and across them.

Before the limit, one aggregate grouped by a field of distinct values answered as many
groups as the table has rows: 19 MB for 100,000 residents in the soak (bench/soak.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from adapters.base import AggregateQuery
from hub.audit.log import records
from hub.errors import QueryTooComplex
from hub.gql.groups import GroupBudget
from tests.support.regency import Regency
from tests.test_relationship_filters import LAYOUTS, PEOPLE, RECIPIENTS, ask, error_of, on_layout

LIMIT = 60
NIKS = sorted(p["nik"] for p in PEOPLE)
BY_NIK = """query($niks: [String!]) {
  dukcapil { pendudukAggregate(groupBy: [nik], where: {nik: {in: $niks}}) { group { nik } count } } }"""
TWO = """query($a: [String!], $b: [String!]) { dukcapil {
  a: pendudukAggregate(groupBy: [nik], where: {nik: {in: $a}}) { group { nik } count }
  b: pendudukAggregate(groupBy: [nik], where: {nik: {in: $b}}) { group { nik } count } } }"""
RELATED = """query($ids: [BigInt!]) { dinsos { penerimaBansosAggregate(groupBy: [id], where: {id: {in: $ids}},
  groupByRelated: {penduduk: [statusHidup]}) { group { id penduduk { statusHidup } } count } } }"""


@pytest_asyncio.fixture(scope="module", params=list(LAYOUTS))
async def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Regency]:
    """The regency on one layout, and a hub whose requests may answer LIMIT groups."""
    async with on_layout(request.param, tmp_path_factory, max_groups=LIMIT) as regency:
        yield regency


async def _records(regency: Regency) -> int:
    return len([r async for r in records(regency.hub.store)])


def _too_many(error: dict[str, Any]) -> None:
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert error["extensions"]["limit"] == "HUB_MAX_GROUPS", error
    assert f"the limit is {LIMIT} (HUB_MAX_GROUPS)" in error["message"], error


async def test_up_to_the_limit_an_answer_past_it_too_complex_and_nothing_recorded(limited: Regency) -> None:
    body = await ask(limited.hub, "user:tester", BY_NIK, {"niks": NIKS[:LIMIT]})
    assert "errors" not in body, body
    groups = body["data"]["dukcapil"]["pendudukAggregate"]
    assert [g["group"]["nik"] for g in groups] == NIKS[:LIMIT] and {g["count"] for g in groups} == {1}

    before = await _records(limited)
    body = await ask(limited.hub, "user:tester", BY_NIK, {"niks": NIKS[: LIMIT + 1]})
    _too_many(error_of(body, "dukcapil", "pendudukAggregate"))
    assert await _records(limited) == before  # nothing was released


async def test_the_aggregates_of_one_request_share_the_limit(limited: Regency) -> None:
    """40 groups each: whichever aggregate spends the budget second is refused, the other answered."""
    half = LIMIT * 2 // 3
    body = await ask(limited.hub, "user:tester", TWO, {"a": NIKS[:half], "b": NIKS[half : 2 * half]})
    (error,) = body["errors"]
    _too_many(error)
    refused = error["path"][-1]
    answered = body["data"]["dukcapil"]["b" if refused == "a" else "a"]
    assert body["data"]["dukcapil"][refused] is None and len(answered) == half
    body = await ask(limited.hub, "user:tester", TWO, {"a": NIKS[:half], "b": NIKS[half:LIMIT]})
    assert "errors" not in body, body  # 40 and 20: the limit exactly


async def test_a_refused_aggregate_leaves_the_budget_to_the_others(limited: Regency) -> None:
    """Past the limit alone, `a` is refused whichever finishes first; `b` is answered,
    with its 10 groups or with none."""
    for b, groups in ((NIKS[:10], NIKS[:10]), (["0000000000000000"], [])):
        body = await ask(limited.hub, "user:tester", TWO, {"a": NIKS[: LIMIT + 1], "b": b})
        (error,) = body["errors"]
        _too_many(error)
        assert error["path"][-1] == "a" and body["data"]["dukcapil"]["a"] is None
        assert [g["group"]["nik"] for g in body["data"]["dukcapil"]["b"]] == groups


async def test_a_grouping_by_related_fields_is_held_to_the_limit(limited: Regency) -> None:
    ids = [r["id"] for r in RECIPIENTS]
    body = await ask(limited.hub, "user:tester", RELATED, {"ids": ids[:LIMIT]})
    assert "errors" not in body, body
    assert len(body["data"]["dinsos"]["penerimaBansosAggregate"]) == LIMIT
    body = await ask(limited.hub, "user:tester", RELATED, {"ids": ids[: LIMIT + 1]})
    _too_many(error_of(body, "dinsos", "penerimaBansosAggregate"))


@pytest.mark.parametrize("limit", [1, 5])
async def test_a_source_answers_at_most_the_groups_asked_for(limited: Regency, limit: int) -> None:
    """The first groups in group order: the SQL carries the limit, as a bound value."""
    source = limited.hub.sources.of_dataset["dukcapil.penduduk"]
    every = await source.adapter.aggregate(AggregateQuery("dukcapil.penduduk", ("nik",)))
    assert len(every) == len(PEOPLE)
    for _ in range(2):  # the second time from the compiled statement a source keeps
        first = await source.adapter.aggregate(AggregateQuery("dukcapil.penduduk", ("nik",), limit=limit))
        assert first == every[:limit]


def test_a_refused_aggregate_spends_nothing_and_a_spent_budget_asks_for_one_group() -> None:
    """The budget counts the groups a request answers: a refused aggregate spends none, so
    a later one that fits is answered and an aggregate of no groups is never refused. A
    spent budget asks a source for one group, never none or a negative count (SQLite
    reads LIMIT -1 as no limit at all, PostgreSQL refuses it)."""
    budget = GroupBudget(5)
    assert budget.asked() == 6
    budget.spend(3, "a")
    with pytest.raises(QueryTooComplex):
        budget.spend(3, "b")
    assert budget.left == 2 and budget.asked() == 3
    budget.spend(2, "c")
    assert budget.left == 0 and budget.asked() == 1
    with pytest.raises(QueryTooComplex):
        budget.spend(1, "d")
    budget.spend(0, "e")
    assert budget.left == 0 and budget.asked() == 1
