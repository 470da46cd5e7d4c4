"""Runs plans on the adapters: one page query, one count when asked, and one batched
lookup per relationship per level (never one per row). Relationships of the same
level run concurrently; each call is bounded by its source's timeout. A to-many
relationship brings a page at most its target source's `max_rows` rows (QUERY_TOO_COMPLEX
beyond; the source is asked for one more): a page of 1,000 rows may relate to far more.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from adapters.base import Adapter, AggregateQuery, CellKey, Measure, PageQuery, Row
from hub.errors import QueryTooComplex
from hub.normalize import normalizer
from hub.plan import AggregatePlan, MatchPlan, NodePlan, ReadPlan, RelPlan
from hub.sources import Calls

LOOKUP_BATCH = 5000


@dataclass(frozen=True)
class ReadResult:
    """`rows` hold the node's fields then one value per relationship: a row (or None)
    for a single relationship, a list of rows for a many-relationship."""

    rows: list[Row]
    has_next: bool
    total: int | None


async def run_read(sources: Calls, plan: ReadPlan) -> ReadResult:
    source = sources.of_dataset[plan.dataset]

    async def page() -> list[Row]:
        if not plan.want_rows:
            return []
        q = PageQuery(plan.dataset, plan.node.fields, plan.where, plan.order, plan.after, plan.first + 1)
        return await sources.call(source, lambda a: a.fetch(q))

    async def total() -> int | None:
        if not plan.want_total:
            return None
        return await sources.call(source, lambda a: a.count(plan.dataset, plan.where))

    if plan.want_rows and plan.want_total:
        rows, count = await asyncio.gather(page(), total())
    else:  # one query: no tasks to schedule
        rows, count = await page(), await total()
    has_next = len(rows) > plan.first
    rows = rows[: plan.first]
    if plan.node.relationships and rows:
        rows = await attach(sources, plan.node, rows)
    return ReadResult(rows, has_next, count)


async def attach(sources: Calls, node: NodePlan, rows: list[Row]) -> list[Row]:
    """Append each relationship's value to every row."""
    resolved = await asyncio.gather(*(_resolve(sources, node, rel, rows) for rel in node.relationships))
    if len(resolved) == 1:  # the usual case: no per-row generator
        return [(*row, value) for row, value in zip(rows, resolved[0], strict=True)]
    return [(*row, *values) for row, *values in zip(rows, *resolved, strict=True)]


async def _resolve(sources: Calls, node: NodePlan, rel: RelPlan, rows: list[Row]) -> list[Any]:
    own = node.index(rel.own_field)
    keys = list(dict.fromkeys(r[own] for r in rows if r[own] is not None))
    found: list[Row] = []
    group_keys: list[Any] = []
    if keys:
        fields = rel.node.fields
        extra = rel.target_field not in fields
        wanted = (*fields, rel.target_field) if extra else fields
        most = sources.of_dataset[rel.target].max_rows if rel.many else None
        found = await lookup(sources, rel.target, rel.target_field, keys, wanted, most)
        if most is not None and len(found) > most:
            raise QueryTooComplex(
                f"the {rel.target} rows related to this page through {rel.name} number more than that "
                f"source's max_rows ({most:,}): ask for fewer rows (first) or narrow the filter",
                limit="max_rows",
            )
        at = wanted.index(rel.target_field)
        group_keys = [r[at] for r in found]
        if extra:
            found = [r[:-1] for r in found]
        if rel.node.relationships and found:
            found = await attach(sources, rel.node, found)
    if not rel.many:  # the first row found per key (no key is None: None keys are not looked up)
        first: dict[Any, Row] = {}
        for key, r in zip(group_keys, found, strict=True):
            first.setdefault(key, r)
        return [first.get(r[own]) for r in rows]
    groups: dict[Any, list[Row]] = defaultdict(list)
    for key, r in zip(group_keys, found, strict=True):
        groups[key].append(r)
    return [groups.get(r[own], []) for r in rows]


async def lookup(
    sources: Calls,
    dataset: str,
    field: str,
    keys: list[Any],
    wanted: tuple[str, ...],
    most: int | None = None,
) -> list[Row]:
    """`Adapter.lookup` in batches of LOOKUP_BATCH keys: a nested level can hold many
    more keys than one statement may bind (SQLite takes 32,766). Rows of one key are
    always in one batch, in key order. With `most`, no more than `most` + 1 rows are
    asked for: more than `most` says there are too many."""
    source = sources.of_dataset[dataset]
    found: list[Row] = []

    def ask(batch: list[Any]) -> Callable[[Adapter], Awaitable[list[Row]]]:
        limit = None if most is None else most + 1 - len(found)
        return lambda a: a.lookup(dataset, field, batch, wanted, limit)

    for i in range(0, len(keys), LOOKUP_BATCH):
        found += await sources.call(source, ask(keys[i : i + LOOKUP_BATCH]))
        if most is not None and len(found) > most:
            break
    return found


async def run_match(sources: Calls, plan: MatchPlan) -> list[dict[str, Any]]:
    """Per record `{index, found, <field>: bool | None}`; no source value leaves here."""
    norm = {f: normalizer(steps) for f, steps in plan.normalize.items()}
    by_key = norm[plan.key]
    given_keys = [by_key(r[plan.key]) for r in plan.records]
    keys = list(dict.fromkeys(given_keys))
    wanted = (plan.key, *plan.fields)
    rows = await lookup(sources, plan.dataset, plan.key, keys, wanted)
    found = {by_key(row[0]): row for row in rows}
    checks = [(f, at, norm[f]) for at, f in enumerate(plan.fields, start=1)]
    out = []
    for i, (record, key) in enumerate(zip(plan.records, given_keys, strict=True)):
        hit = found.get(key)
        answer: dict[str, Any] = {"index": i, "found": hit is not None}
        for f, at, same in checks:
            given = record.get(f)
            if hit is None or given is None:
                answer[f] = None
            else:
                answer[f] = hit[at] is not None and same(hit[at]) == same(given)
        out.append(answer)
    return out


async def run_aggregate(
    sources: Calls, plan: AggregatePlan, measures: tuple[tuple[Measure, str], ...] | None = None,
    cell_key: CellKey | None = None, published: bool = False, limit: int | None = None,
) -> list[Row]:  # fmt: skip
    """Rows of (*group values, count, *measures): the plan's, or `measures`; with
    `cell_key`, each row ends with its group's cell key; `published`: as the source
    perturbed them (AggregateQuery.published); `limit`: at most that many groups."""
    measures = plan.measures if measures is None else measures
    query = AggregateQuery(plan.dataset, plan.group_by, plan.where, measures, cell_key, published, limit)
    source = sources.of_dataset[plan.dataset]
    return await sources.call(source, lambda a: a.aggregate(query))
