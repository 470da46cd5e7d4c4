"""Aggregate: GraphQL arguments -> an `AggregatePlan`, and its groups -> the answer.

A caller who may read every field the question uses gets exact groups. Anyone else gets
what the dataset's disclosure method publishes (hub/disclosure): perturbed counts and
sums (`cell_key`), or groups smaller than `min_group_size` suppressed (`suppress`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from adapters.base import Measure, Row
from hub.gql.dataset_types import DatasetTypes
from hub.gql.scalars import OUTPUT
from hub.gql.selection import Selected, collect
from hub.gql.translate import FieldInputs, to_filter
from hub.plan import AggregatePlan, RelatedGroup

MEASURES: tuple[Measure, ...] = ("sum", "avg", "min", "max")
Rule = Literal["exact", "suppress", "cell_key"]  # how the groups were made safe to publish


def aggregate_plan(
    t: DatasetTypes,
    args: Mapping[str, Any],
    sel: Mapping[str, Selected],
    q: FieldInputs,
    types: Mapping[str, DatasetTypes] | None = None,
) -> AggregatePlan:
    group_by = tuple(dict.fromkeys(args.get("groupBy") or ()))
    measures: list[tuple[Measure, str]] = []
    for s in sel.values():
        if s.name in MEASURES:
            for m in collect(s.nodes, q.fragments, q.variables).values():
                pair = (s.name, t.fields[m.name]) if m.name in t.fields else None
                if pair is not None and pair not in measures:
                    measures.append(pair)
    where = to_filter(t, args.get("where"), types)
    related = _related_groups(t, args.get("groupByRelated") or {})
    return AggregatePlan(t.dataset.qualified, group_by, where, tuple(measures), related)


def _related_groups(t: DatasetTypes, asked: Mapping[str, Any]) -> tuple[RelatedGroup, ...]:
    """`groupByRelated: {penduduk: [statusHidup]}` as RelatedGroups (the enum values are
    the target's catalog field names), each field once."""
    out: dict[tuple[str, str], RelatedGroup] = {}
    for gql_name, fields in asked.items():
        name, spec = t.relationships[gql_name]
        ((own, theirs),) = spec.join.items()
        for f in fields or ():
            out.setdefault((name, f), RelatedGroup(name, own, spec.to, theirs, f))
    return tuple(out.values())


def _measure_output(t: DatasetTypes, measure: str, field: str) -> Callable[[Any], Any] | None:
    type_ = t.dataset.fields[field].type
    if measure == "avg" or (measure == "sum" and type_ == "float"):
        return OUTPUT["float"]
    return OUTPUT[type_]


@dataclass(frozen=True)
class _Nested:
    """The group key's values of one related row: (key, row index, converter, public)."""

    cells: list[tuple[str, int, Any, bool]]


def write_groups(
    t: DatasetTypes,
    plan: AggregatePlan,
    sel: Mapping[str, Selected],
    rows: list[Row],
    rule: Rule,
    q: FieldInputs,
    types: Mapping[str, DatasetTypes] | None = None,
) -> list[dict[str, Any]]:
    """One answer per group of `rows` (*group, count, *measures), published by `rule`.

    A small group keeps only the values of its public-classified keys: a key such as a
    name would say who is in the small group (and what the filter says of them). Under
    `suppress` small is below min_group_size; under `cell_key`, a published count below
    min_group_size + max_noise (decided on the published count, it tells nothing more)."""
    public = {f for f in plan.group_by if t.dataset.fields[f].classification == "public"}
    width = plan.width
    spec = t.dataset.spec
    small = spec.min_group_size + (spec.disclosure.max_noise if rule == "cell_key" else 0)
    group_name = t.group.name if t.group else ""
    grouped = {f: i for i, f in enumerate(plan.group_by)}
    measured = {m: width + 1 + i for i, m in enumerate(plan.measures)}
    # (response key, what, [(sub key, row index; -1 __typename, -2 not grouped, converter)])
    parts: list[tuple[str, str, list[tuple[str, int, Any, bool]]]] = []
    for key, s in sel.items():
        sub = collect(s.nodes, q.fragments, q.variables) if s.name == "group" or s.name in MEASURES else {}
        typename = (
            f"{group_name}Key" if s.name == "group" else group_name.removesuffix("Group") + s.name.title()
        )
        cells: list[tuple[str, int, Any, bool]] = []  # (key, index, converter, shown when suppressed)
        for sub_key, m in sub.items():
            if m.name == "__typename":
                cells.append((sub_key, -1, typename, True))
                continue
            if s.name == "group" and m.name in t.relationships:
                cells.append((sub_key, 0, _related_key(t, plan, m, q, types or {}), True))
                continue
            f = t.fields[m.name]
            if s.name == "group":
                cells.append((sub_key, grouped.get(f, -2), OUTPUT[t.dataset.fields[f].type], f in public))
            else:
                index = measured[(s.name, f)]  # type: ignore[index]
                cells.append((sub_key, index, _measure_output(t, s.name, f), False))
        parts.append((key, s.name, cells))
    out = []
    for row in rows:
        count = int(row[width])
        suppressed = rule == "suppress" and count < small
        hidden = rule != "exact" and count < small  # non-public keys left out
        answer: dict[str, Any] = {}
        for key, what, cells in parts:
            if what == "count":
                answer[key] = None if suppressed else count
            elif what == "suppressed":
                answer[key] = suppressed
            elif what == "perturbed":
                answer[key] = rule == "cell_key"
            elif what == "__typename":
                answer[key] = group_name
            elif what in MEASURES and suppressed:
                answer[key] = None
            else:
                answer[key] = _cells(row, cells, hidden and what == "group")
        out.append(answer)
    return out


def _related_key(
    t: DatasetTypes, plan: AggregatePlan, m: Selected, q: FieldInputs, types: Mapping[str, DatasetTypes]
) -> _Nested:
    """The cells of `group { <relationship> { ... } }`: the related group values, at
    their place after the dataset's own."""
    name, spec = t.relationships[m.name]
    target = types[spec.to]
    at = {(g.relationship, g.field): len(plan.group_by) + i for i, g in enumerate(plan.related_groups)}
    cells: list[tuple[str, int, Any, bool]] = []
    for sub_key, r in collect(m.nodes, q.fragments, q.variables).items():
        if r.name == "__typename":
            cells.append((sub_key, -1, f"{target.group.name if target.group else ''}Key", True))
            continue
        f = target.fields[r.name]
        field = target.dataset.fields[f]
        cells.append((sub_key, at.get((name, f), -2), OUTPUT[field.type], field.classification == "public"))
    return _Nested(cells)


def _cells(row: Row, cells: list[tuple[str, int, Any, bool]], hidden: bool) -> dict[str, Any]:
    """One object of the answer; `hidden`: a small group's, which keeps public keys only."""
    return {
        k: (_cells(row, conv.cells, hidden) if isinstance(conv, _Nested) else _cell(row, i, conv))
        if shown or not hidden else None
        for k, i, conv, shown in cells
    }  # fmt: skip


def _cell(row: Row, at: int, conv: Any) -> Any:
    if at == -1:
        return conv  # a __typename
    v = None if at == -2 else row[at]  # -2: a group field not grouped by
    return v if v is None or conv is None else conv(v)
