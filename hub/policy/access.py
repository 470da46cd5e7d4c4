"""What a plan asks of the policy, and the plan that the decisions leave.

`pairs(plan)` lists every (object, action) a read plan touches:
- a returned field needs `read`;
- a filter needs `match` when it only uses `eq`/`in`, else `read`;
- a sort needs `read`;
- a relationship needs `match` on both join fields.
`restrict(plan, allowed)` raises FORBIDDEN when a filter or sort is not allowed (a
filter is a question about the value), and otherwise drops the returned fields and
relationships the caller may not have; the GraphQL layer writes those as null with
a FORBIDDEN error each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from adapters.base import EQUALITY_OPS, Cmp, Exists, FieldRef, Filter, Not, conjuncts
from hub.errors import Forbidden
from hub.plan import AggregatePlan, MatchPlan, NodePlan, ReadPlan
from hub.policy.decisions import Pair


def cmps(f: Filter | None) -> list[Cmp]:
    """The comparisons of the filtered dataset's own fields (not those in relationship
    filters, which compare the related dataset's)."""
    if f is None or isinstance(f, Exists):
        return []
    if isinstance(f, Cmp):
        return [f]
    if isinstance(f, Not):
        return cmps(f.part)
    return [c for p in f.parts for c in cmps(p)]


# (object, action, related): `related` is True for comparisons inside a relationship filter
Use = tuple[str, str, bool]


def filter_uses(
    f: Filter | None,
    dataset: str,
    negated: bool = False,
    related: bool = False,
    outer: str = "",
    fixed: bool = False,
) -> list[Use]:
    """What each comparison needs: `match` suffices for eq/in outside a `not`; `not:
    {eq}` asks what `neq` asks, so it needs `read` like `neq`. A relationship filter
    needs `match` on both join fields (as following the relationship does) and what its
    own comparisons need of the related dataset. Under a negated relationship filter
    (`none`, `every`, which is NOT EXISTS (... NOT ...), or `not` of one) every
    comparison needs `read`, whatever further negations it holds (`fixed`): the rows it
    selects are those with no related row that matches, and a second `not` inside does
    not turn that back into an equality. A comparison of two fields needs `read` on both
    (`outer`: the dataset an `Exists` filters, whose field a `FieldRef(outer=True)` names)."""
    if f is None:
        return []
    if isinstance(f, Cmp):
        if isinstance(f.value, FieldRef):
            other = f"{outer if f.value.outer else dataset}.{f.value.field}"
            return [(f"{dataset}.{f.field}", "read", related), (other, "read", related)]
        action = "match" if f.op in EQUALITY_OPS and not negated and not fixed else "read"
        return [(f"{dataset}.{f.field}", action, related)]
    if isinstance(f, Not):
        return filter_uses(f.part, dataset, not negated, related, outer, fixed)
    if isinstance(f, Exists):
        own, theirs = f"{dataset}.{f.own_field}", f"{f.target}.{f.target_field}"
        inner = filter_uses(f.where, f.target, False, True, dataset, fixed or negated)
        return [(own, "match", True), (theirs, "match", True), *inner]
    return [a for p in f.parts for a in filter_uses(p, dataset, negated, related, outer, fixed)]


def filter_shape(dataset: str, where: Filter | None) -> tuple[Use, ...]:
    """What a filter asks of the policy, per comparison in order, without its values."""
    return tuple(filter_uses(where, dataset))


def filter_pairs(dataset: str, where: Filter | None) -> set[Pair]:
    return {(obj, action) for obj, action, _ in filter_uses(where, dataset)}


def relationship_pairs(dataset: str, where: Filter | None) -> set[Pair]:
    """What the filter's relationship filters need: `match` on the join fields, and
    `match` or `read` on the related fields they compare."""
    return {(obj, action) for obj, action, related in filter_uses(where, dataset) if related}


def counting_pairs(dataset: str, where: Filter | None, related: bool = False, outer: str = "") -> set[Pair]:
    """What the filter's relationship filters need of a caller who counts through them
    (`related_counted`): `join` on both join fields, `aggregate` on every related field
    they compare (and on the outer field a comparison of two fields names)."""
    if where is None:
        return set()
    if isinstance(where, Cmp):
        if not related:
            return set()
        out = {(f"{dataset}.{where.field}", "aggregate")}
        if isinstance(where.value, FieldRef):
            out.add((f"{outer if where.value.outer else dataset}.{where.value.field}", "aggregate"))
        return out
    if isinstance(where, Not):
        return counting_pairs(dataset, where.part, related, outer)
    if isinstance(where, Exists):
        joins = {(f"{dataset}.{where.own_field}", "join"), (f"{where.target}.{where.target_field}", "join")}
        return joins | counting_pairs(where.target, where.where, True, dataset)
    return set().union(*(counting_pairs(dataset, p, related, outer) for p in where.parts))


def compared_read_pairs(dataset: str, where: Filter | None) -> set[Pair]:
    """`read` on every field the filter only compares: whether the caller may read it
    decides whether the comparison must be anchored by the key (`check_anchored`)."""
    return {(obj, "read") for obj, action, _ in filter_uses(where, dataset) if action == "match"}


def match_only(dataset: str, where: Filter | None, allowed: Mapping[Pair, bool]) -> frozenset[str]:
    """The filtered dataset's own fields the filter compares that the caller may compare
    but not read (relationship filters: `check_related`)."""
    return frozenset(
        obj[len(dataset) + 1 :]
        for obj, action, related in filter_uses(where, dataset)
        if not related and action == "match" and not allowed.get((obj, "read"))
    )


def check_anchored(dataset: str, key: str, where: Filter | None, only: frozenset[str]) -> int:
    """A filter comparing fields the caller may only match (`only`) is a verification,
    not a search: it must name its rows by the key (`key: {eq}` or `{in}` at the top
    level) and compare each such field with one value, at the top level too. Returns how
    many rows it names (the records compared); FORBIDDEN otherwise."""
    if not only or where is None:
        return 0
    parts = conjuncts(where)
    named = [
        len(c.value) if c.op == "in" else 1
        for c in parts
        if isinstance(c, Cmp) and c.field == key and c.op in EQUALITY_OPS
    ]
    first = sorted(only - {key})[0] if only - {key} else key
    if not named:
        raise Forbidden(
            f"{dataset}.{first} may only be compared, not searched: name the rows by the key "
            f"({key}: {{eq}} or {{in}}) in the same filter",
            object=f"{dataset}.{first}", action="match",
        )  # fmt: skip
    top = {id(c) for c in parts}
    for c in cmps(where):
        if c.field not in only:
            continue
        obj = f"{dataset}.{c.field}"
        if id(c) not in top:
            raise Forbidden(
                f"{obj} may only be compared at the top level of the filter, beside the key, "
                "not inside `or` or `not`", object=obj, action="match",
            )  # fmt: skip
        if c.field != key and c.op == "in" and len(c.value) != 1:
            raise Forbidden(
                f"{obj} may only be compared with one value per row: `in` with {len(c.value)} values "
                "would test that many guesses at once", object=obj, action="match",
            )  # fmt: skip
    return min(named)


def node_pairs(dataset: str, node: NodePlan) -> set[Pair]:
    out = {(f"{dataset}.{f}", "read") for f in node.output}
    for rel in node.relationships:
        out |= {(f"{dataset}.{rel.own_field}", "match"), (f"{rel.target}.{rel.target_field}", "match")}
        out |= node_pairs(rel.target, rel.node)
    return out


def pairs(plan: ReadPlan) -> set[Pair]:
    sort = {(f"{plan.dataset}.{f}", "read") for f in plan.sort}
    return filter_pairs(plan.dataset, plan.where) | sort | node_pairs(plan.dataset, plan.node)


def count_pairs(dataset: str, fields: Iterable[str]) -> set[Pair]:
    """A read that uses no field at all (only `totalCount`, or nodes whose fields were
    all refused) is an exact count of the dataset's rows: it needs `read` on some field
    (whoever may read a field of every row may count the rows anyway)."""
    return {(f"{dataset}.{f}", "read") for f in fields}


def check_filter(dataset: str, where: Filter | None, allowed: Mapping[Pair, bool]) -> None:
    check_pairs(filter_pairs(dataset, where), allowed)


def check_pairs(asked: set[Pair], allowed: Mapping[Pair, bool]) -> None:
    for obj, action in sorted(asked):
        if not allowed.get((obj, action)):
            how = "compare" if action == "match" else "filter on"
            raise Forbidden(f"you may not {how} {obj}", object=obj, action=action)


def related_group_pairs(plan: AggregatePlan) -> set[Pair]:
    """What grouping by related fields needs: `join` on both join fields (match implies
    it) and `aggregate` on each related field grouped by."""
    out: set[Pair] = set()
    for g in plan.related_groups:
        out |= {(f"{plan.dataset}.{g.own_field}", "join"), (f"{g.target}.{g.target_field}", "join")}
        out.add((f"{g.target}.{g.field}", "aggregate"))
    return out


def check_related_groups(asked: set[Pair], allowed: Mapping[Pair, bool]) -> None:
    for obj, action in sorted(asked):
        if not allowed.get((obj, action)):
            how = "group by" if action == "aggregate" else "join on"
            raise Forbidden(f"you may not {how} {obj}", object=obj, action=action)


def related_counted(related: set[Pair], counting: set[Pair], allowed: Mapping[Pair, bool]) -> bool:
    """How an aggregate's relationship filters are allowed: as a read would use them
    (`match` on the join fields and on equalities, `read` otherwise; a field it may only
    match is verified, hub/policy/related.py), False; or, for a caller who may not use
    them so but may `join` on the join fields and `aggregate` every related field
    compared (`counting_pairs`), True: the related fields are used in the aggregate's
    `where` as its own fields are, and the combined cells are protected as any other
    (perturbed or suppressed). FORBIDDEN if neither, naming a field that lacks both."""
    if all(allowed.get(p) for p in related):
        return False
    if all(allowed.get(p) for p in counting):
        return True
    how = {"match": "compare", "read": "filter on", "join": "join on", "aggregate": "aggregate"}
    lacking = {obj for obj, action in related if not allowed.get((obj, action))}
    neither = sorted(p for p in counting if p[0] in lacking and not allowed.get(p))
    if neither:
        obj, action = neither[0]
        direct = next(a for o, a in sorted(related) if o == obj and not allowed.get((o, a)))
        raise Forbidden(f"you may not {how[direct]} or {how[action]} {obj}", object=obj, action=direct)
    obj, action = min(p for p in related if not allowed.get(p))
    raise Forbidden(
        f"you may not {how[action]} {obj}, nor join on and aggregate every field this relationship "
        "filter uses: it uses them all as a read would, or all as counted",
        object=obj, action=action,
    )  # fmt: skip


def restrict_node(dataset: str, node: NodePlan, allowed: Mapping[Pair, bool]) -> NodePlan:
    """The node without the fields and relationships the caller may not have. A to-many
    relationship whose rows would show nothing the caller may read is dropped as well:
    its lists' lengths are exact counts of the related rows (`related_count_pairs`)."""
    output = frozenset(f for f in node.output if allowed.get((f"{dataset}.{f}", "read")))
    rels = []
    for rel in node.relationships:
        joined = allowed.get((f"{dataset}.{rel.own_field}", "match")) and allowed.get(
            (f"{rel.target}.{rel.target_field}", "match")
        )
        if not joined:
            continue
        sub = restrict_node(rel.target, rel.node, allowed)
        if rel.many and not sub.output and not reads_some(rel.target, allowed):
            continue
        rels.append(replace(rel, node=sub))
    return NodePlan(node.fields, tuple(rels), output)


def reads_some(dataset: str, allowed: Mapping[Pair, bool]) -> bool:
    """Whether the caller may read some field of `dataset` (of those `allowed` holds)."""
    prefix = dataset + "."
    return any(
        ok for (obj, act), ok in allowed.items()
        if act == "read" and obj.startswith(prefix) and "." not in obj[len(prefix) :]
    )  # fmt: skip


def related_count_pairs(node: NodePlan, fields: Callable[[str], Iterable[str]]) -> set[Pair]:
    """`read` on every field of each to-many relationship's target, for `restrict_node`."""
    out: set[Pair] = set()
    for rel in node.relationships:
        if rel.many:
            out |= {(f"{rel.target}.{f}", "read") for f in fields(rel.target)}
        out |= related_count_pairs(rel.node, fields)
    return out


def restrict(plan: ReadPlan, allowed: Mapping[Pair, bool]) -> ReadPlan:
    """`allowed` must hold the decisions on `pairs(plan)` and `count_pairs` of the dataset."""
    check_filter(plan.dataset, plan.where, allowed)
    for field in plan.sort:
        obj = f"{plan.dataset}.{field}"
        if not allowed.get((obj, "read")):
            raise Forbidden(f"you may not sort by {obj}", object=obj, action="read")
    restricted = replace(plan, node=restrict_node(plan.dataset, plan.node, allowed))
    # what is left is a count (of rows, or of nulls in a list)
    if not pairs(restricted) and not reads_some(plan.dataset, allowed):
        raise Forbidden(
            f"rows without any field you may read are an exact count of {plan.dataset}, and you may "
            "read none of it: count with the dataset's Aggregate field (its counts are perturbed)",
            object=plan.dataset, action="read",
        )  # fmt: skip
    return restricted


def match_pairs(plan: MatchPlan) -> set[Pair]:
    """A match compares the key and every given field: `match` on each."""
    return {(f"{plan.dataset}.{f}", "match") for f in (plan.key, *plan.fields)}


def check_match(plan: MatchPlan, allowed: Mapping[Pair, bool]) -> None:
    for obj, action in sorted(match_pairs(plan)):
        if not allowed.get((obj, action)):
            raise Forbidden(f"you may not match on {obj}", object=obj, action=action)


def aggregate_used(plan: AggregatePlan) -> set[str]:
    compared = cmps(plan.where)
    others = {c.value.field for c in compared if isinstance(c.value, FieldRef)}
    return {*plan.group_by, *(c.field for c in compared), *others, *(f for _, f in plan.measures)}


def aggregate_pairs(plan: AggregatePlan, fields: Iterable[str]) -> set[Pair]:
    """`aggregate` on every field the question uses (or, for a bare count, on some
    field of the dataset), and `read` on them to know whether the answer may be exact."""
    used = aggregate_used(plan) or set(fields)
    return {(f"{plan.dataset}.{f}", a) for f in used for a in ("aggregate", "read")}


def check_aggregate(plan: AggregatePlan, fields: Iterable[str], allowed: Mapping[Pair, bool]) -> bool:
    """Raise FORBIDDEN if the question is not allowed; True when the caller may read
    everything it uses: the answer is then exact, else perturbed or suppressed."""
    used = aggregate_used(plan)
    if not used:
        if not any(allowed.get((f"{plan.dataset}.{f}", "aggregate")) for f in fields):
            raise Forbidden(f"you may not count {plan.dataset}", object=plan.dataset, action="aggregate")
        # exact for whoever may read some field: listing it counts the rows anyway
        return any(allowed.get((f"{plan.dataset}.{f}", "read")) for f in fields)
    for f in sorted(used):
        obj = f"{plan.dataset}.{f}"
        if not allowed.get((obj, "aggregate")):
            raise Forbidden(f"you may not aggregate {obj}", object=obj, action="aggregate")
    for measure, f in plan.measures:
        obj = f"{plan.dataset}.{f}"
        if measure in ("min", "max") and not allowed.get((obj, "read")):
            raise Forbidden(
                f"{measure} of {obj} is one record's value, and you may not read it: ask for sum or avg",
                object=obj, action="read",
            )  # fmt: skip
    return all(allowed.get((f"{plan.dataset}.{f}", "read")) for f in used)


def check_perturbable(plan: AggregatePlan) -> None:
    """A perturbed answer offers no min or max: each is one record's exact value."""
    for measure, f in plan.measures:
        if measure in ("min", "max"):
            obj = f"{plan.dataset}.{f}"
            raise Forbidden(
                f"{measure} of {obj} is one record's value, and this answer is perturbed (you may not "
                "read every field it uses): ask for sum or avg",
                object=obj, action="read",
            )  # fmt: skip
