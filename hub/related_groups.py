"""Aggregates grouped by a field of a to-one related row, across sources.

`groupByRelated: {penduduk: [statusHidup]}` on Dinsos's recipients counts them per
their resident's status, which lives at Dukcapil. Three steps, whatever the sources:

1. the filtered dataset's groups, each split by the relationship's own field as well
   (`GROUP BY kecamatan, nik`), with the sums, minima and maxima of the measured
   fields and, for a perturbed answer, each group's cell key;
2. the related rows of those join values, `in` batches of BATCH, their key and the
   grouped fields only;
3. the groups folded in the hub into (own groups, related values): counts, sums and
   cell keys add (a cell key is a sum of record keys modulo 2^32, so the folded group
   has the cell key its records would give), minima and maxima combine. A row without
   a related row falls into the group whose related values are null, as a LEFT JOIN
   puts it.

Steps 1 and 2 each hold at most their source's `max_rows` rows; beyond,
QUERY_TOO_COMPLEX naming the relationship. The rows returned are those `run_aggregate`
returns for the source measures (`source_measures`), so that the caller publishes them
as it publishes any other: exact, suppressed or perturbed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from adapters.base import Adapter, CellKey, Cmp, Measure, Order, PageQuery, Row
from adapters.cellkey import MODULUS
from hub.errors import QueryTooComplex
from hub.fetch import run_aggregate
from hub.plan import AggregatePlan, RelatedGroup
from hub.sources import Calls

BATCH = 1000  # join values per `in` when fetching the related rows

Measures = tuple[tuple[Measure, str], ...]


async def grouped(
    sources: Calls, keys: Mapping[str, str], plan: AggregatePlan, measures: Measures, cell_key: CellKey | None
) -> list[Row]:
    """Rows of (*own groups, *related groups, count, *measures[, cell key]) for `measures`
    of kinds sum, min and max (`source_measures`)."""
    joins = tuple(dict.fromkeys(g.own_field for g in plan.related_groups))
    split = replace(plan, group_by=plan.group_by + joins, related_groups=())
    source = sources.of_dataset[plan.dataset]
    rows = await run_aggregate(sources, split, measures, cell_key)
    if len(rows) > source.max_rows:
        raise _too_complex(plan.related_groups[0], plan.dataset, source.max_rows)
    width = len(plan.group_by)
    related: list[tuple[int, dict[Any, tuple[Any, ...]], int]] = []  # (join column, values, index)
    for own_field in joins:
        groups = [g for g in plan.related_groups if g.own_field == own_field]
        at = width + joins.index(own_field)
        values = list(dict.fromkeys(r[at] for r in rows if r[at] is not None))
        found = await _related_rows(sources, keys, groups, values)
        related += [(at, found, i) for i in range(len(groups))]
    return _fold(rows, width, len(joins), related, measures, cell_key is not None)


async def _related_rows(
    sources: Calls, keys: Mapping[str, str], groups: list[RelatedGroup], values: list[Any]
) -> dict[Any, tuple[Any, ...]]:
    """The grouped fields of the related row of each join value (join value -> values)."""
    first = groups[0]
    source = sources.of_dataset[first.target]
    fields = (first.target_field, *(g.field for g in groups))
    if len(values) > source.max_rows:
        raise _too_complex(first, first.target, source.max_rows)
    out: dict[Any, tuple[Any, ...]] = {}
    for i in range(0, len(values), BATCH):
        batch = Cmp(first.target_field, "in", tuple(values[i : i + BATCH]))
        query = PageQuery(first.target, fields, batch, (Order(keys[first.target]),), None, BATCH + 1)
        for r in await sources.call(source, _fetch(query)):
            out[r[0]] = tuple(r[1:])
    return out


def _fold(
    rows: list[Row],
    width: int,
    joins: int,
    related: list[tuple[int, dict[Any, tuple[Any, ...]], int]],
    measures: Measures,
    keyed: bool,
) -> list[Row]:
    """The groups by (own values, related values), in that order of first appearance."""
    folded: dict[tuple[Any, ...], list[Any]] = {}
    for r in rows:
        group = (*r[:width], *(_related_value(found.get(r[at]), i) for at, found, i in related))
        rest = list(r[width + joins :])
        acc = folded.get(group)
        if acc is None:
            folded[group] = rest
            continue
        acc[0] += rest[0]
        for j, (measure, _) in enumerate(measures, start=1):
            acc[j] = _combine(measure, acc[j], rest[j])
        if keyed:
            acc[-1] = (int(acc[-1] or 0) + int(rest[-1] or 0)) % MODULUS
    return [(*group, *rest) for group, rest in folded.items()]


def _related_value(values: tuple[Any, ...] | None, i: int) -> Any:
    return None if values is None else values[i]  # no related row: null, as a LEFT JOIN says


def _combine(measure: Measure, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return b if a is None else a
    if measure == "sum":
        return a + b
    return min(a, b) if measure == "min" else max(a, b)


def _too_complex(group: RelatedGroup, dataset: str, limit: int) -> QueryTooComplex:
    return QueryTooComplex(
        f"grouping by {group.target}.{group.field} through the relationship {group.relationship} "
        f"needs more than {dataset}'s max_rows ({limit:,}) rows: narrow the filter or group by less",
        limit="max_rows",
    )


def _fetch(q: PageQuery) -> Callable[[Adapter], Awaitable[list[Any]]]:
    return lambda a: a.fetch(q)
