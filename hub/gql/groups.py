"""An aggregate's groups, fetched and published: exact, for suppression later (in
`write_groups`), perturbed by the cell keys the source computes, as a remote hub
published them, or grouped by related fields too (hub/related_groups.py).

A request's aggregates answer at most `HUB_MAX_GROUPS` groups together (`GroupBudget`):
an aggregate is a table, not an extract (pages and downloads are), and its answer is held
whole in memory. Grouped by a field of distinct values, one aggregate of 100,000 residents
answered 19 MB and took a hub 77 MiB past its peak. A source is asked for one group more
than the budget has left, so that a grouping past it is refused having fetched one row
more than the budget, not the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import CellKey, Measure, Row
from hub.disclosure.cellkey import prefix
from hub.disclosure.perturb import Perturbation, average, source_measures
from hub.disclosure.ptable import table_for
from hub.errors import Forbidden, QueryTooComplex
from hub.fetch import run_aggregate
from hub.gql.aggregate import Rule
from hub.gql.dataset_types import DatasetTypes
from hub.plan import AggregatePlan
from hub.related_groups import grouped
from hub.sources import Calls


class GroupBudget:
    """The groups one request's aggregates may still answer (`HUB_MAX_GROUPS`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def asked(self) -> int:
        """Groups to ask a source for: one more than are left, so that a grouping past
        them shows (1 once they are spent: a LIMIT of 0 would hide one)."""
        return self.left + 1

    def spend(self, groups: int, dataset: str) -> None:
        """Count an aggregate's groups as answered, or QUERY_TOO_COMPLEX when they are more
        than are left. A refused aggregate answers nothing and spends nothing, so that the
        budget counts what the request answers: an aggregate of no groups is never
        refused. Aggregates of one request run side by side; each asks for what was left
        when it started, and they are counted in the order they finish."""
        if groups > self.left:
            raise QueryTooComplex(
                f"the aggregate of {dataset} has more groups than the request may answer ({self.limit:,} "
                "for all its aggregates together): group by fewer fields or narrow the filter; the limit is "
                f"{self.limit} (HUB_MAX_GROUPS)", limit="HUB_MAX_GROUPS",
            )  # fmt: skip
        self.left -= groups


async def fetch_groups(
    sources: Calls, secret: str, t: DatasetTypes, plan: AggregatePlan, rule: Rule, keys: Mapping[str, str],
    budget: GroupBudget,
) -> tuple[list[int], list[Row], Rule]:  # fmt: skip
    """The groups' true counts (for the audit), the groups as published, and the rule
    they were published by: exact, suppressed later in `write_groups`, perturbed here
    from the cell keys the source computes (`secret`: the disclosure key), or as
    another hub perturbed them. Their number is spent from `budget`."""
    counts, rows, rule = await _fetched(sources, secret, t, plan, rule, keys, budget.asked())
    budget.spend(len(counts), plan.dataset)
    return counts, rows, rule


async def _fetched(
    sources: Calls, secret: str, t: DatasetTypes, plan: AggregatePlan, rule: Rule, keys: Mapping[str, str],
    limit: int,
) -> tuple[list[int], list[Row], Rule]:  # fmt: skip
    if plan.related_groups:  # each step within its source's max_rows (hub/related_groups.py)
        counts, rows = await _related_groups(sources, secret, t, plan, rule, keys)
        return counts, rows, rule
    width = len(plan.group_by)
    if not sources.of_dataset[plan.dataset].adapter.computes_cell_keys:
        rows, rule = await _published(sources, plan, rule)
        return [int(r[width]) for r in rows], rows, rule
    if rule != "cell_key":
        rows = await run_aggregate(sources, plan, limit=limit)
        return [int(r[width]) for r in rows], rows, rule
    cell_key = CellKey(prefix(secret, plan.dataset), t.dataset.key)
    source_rows = await run_aggregate(sources, plan, source_measures(plan.measures), cell_key, limit=limit)
    types = {f: t.dataset.fields[f].type for _, f in plan.measures}
    published = perturbation(t).publish(source_rows, width, plan.measures, types)
    return [int(r[width]) for r in source_rows], published, rule


async def _related_groups(
    sources: Calls, secret: str, t: DatasetTypes, plan: AggregatePlan, rule: Rule, keys: Mapping[str, str]
) -> tuple[list[int], list[Row]]:
    """Groups by related fields too (hub/related_groups.py): the true counts, and the
    groups published by `rule` (suppression is applied later, in `write_groups`)."""
    if not sources.of_dataset[plan.dataset].adapter.computes_cell_keys:
        raise QueryTooComplex(
            f"{plan.dataset} is served by another hub, which groups by its own fields only",
            limit="groupByRelated",
        )
    width, fields = plan.width, dict.fromkeys(f for _, f in plan.measures)
    kinds: tuple[Measure, ...] = ("sum", "min", "max")
    # a sum only where a sum or an average is asked (a text field has a minimum, no sum)
    summed = {f for m, f in plan.measures if m in ("sum", "avg")}
    folded = tuple((m, f) for f in fields for m in kinds if m != "sum" or f in summed)
    key = CellKey(prefix(secret, plan.dataset), t.dataset.key) if rule == "cell_key" else None
    rows = await grouped(sources, keys, plan, folded, key)
    counts = [int(r[width]) for r in rows]
    if key is not None:
        types = {f: t.dataset.fields[f].type for f in fields}
        return counts, perturbation(t).publish(rows, width, plan.measures, types)
    at = {pair: width + 1 + i for i, pair in enumerate(folded)}

    def exact(r: Row) -> Row:
        count = int(r[width])
        values = [
            average(r[at[("sum", f)]], count) if m == "avg" else r[at[(m, f)]] for m, f in plan.measures
        ]
        return (*r[: width + 1], *values)

    return counts, [exact(r) for r in rows]


async def _published(sources: Calls, plan: AggregatePlan, rule: Rule) -> tuple[list[Row], Rule]:
    """Groups of a source that perturbs by its own rules (a remote hub), and how they
    were published: perturbed there, or exact, which only an exempt caller may have."""
    rows = await run_aggregate(sources, plan, published=True)
    if rows and all(r[-1] for r in rows):
        return [r[:-1] for r in rows], "cell_key"
    if rows and rule != "exact":
        raise Forbidden(
            f"the hub that serves {plan.dataset} answers this hub exactly and gives no cell keys, so "
            "the answer cannot be perturbed here: only a caller who may read every field it uses "
            "may have it", object=plan.dataset, action="read",
        )  # fmt: skip
    return [r[:-1] for r in rows], rule


def perturbation(t: DatasetTypes) -> Perturbation:
    spec = t.dataset.spec
    table = table_for(spec.disclosure.max_noise, spec.disclosure.variance, spec.min_group_size)
    return Perturbation(table, spec.disclosure.sum_noise)
