"""GraphQL arguments and selections -> plans (and the shapes that turn results back).

`read_plan` is the whole translation of one dataset field: `where` becomes a
`Filter`, `orderBy` an order ending with the key, `after` decoded keyset values, and
the selection a `NodePlan` plus the `ConnectionShape` that writes the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import And, Cmp, Exists, FieldRef, Filter, Not, Op, Or, Order
from hub.catalog import NUMERIC_TYPES
from hub.cursor import Cursors, filter_scope
from hub.errors import BadUserInput, QueryTooComplex
from hub.gql.dataset_types import DatasetTypes
from hub.gql.selection import Selected, collect
from hub.gql.step_cache import NEVER, StepMemo
from hub.plan import NodePlan, ReadPlan, RelPlan

_OPS: dict[str, Op] = {
    "eq": "eq", "neq": "neq", "in": "in", "nin": "nin", "lt": "lt", "lte": "lte",
    "gt": "gt", "gte": "gte", "isNull": "isNull", "like": "like",
}  # fmt: skip


@dataclass(frozen=True)
class FieldInputs:
    """What a dataset field reads its arguments and selection with, taken from
    graphql-core's info and nothing else: the fragments, the variables, the page cap."""

    fragments: Mapping[str, Any]
    variables: Any
    max_first: int


RELATED_DEPTH = 2  # recipient -> resident is one level, recipient -> resident -> recipients two


def to_filter(
    t: DatasetTypes,
    where: Mapping[str, Any] | None,
    types: Mapping[str, DatasetTypes] | None = None,
    depth: int = 0,
) -> Filter | None:
    """A `where` as a `Filter`; relationship filters become `Exists` (`types` holds the
    datasets they lead to), at most RELATED_DEPTH deep."""
    if not where:
        return None
    parts: list[Filter] = []
    for key, value in where.items():
        if value is None:
            raise BadUserInput(f"`{key}: null` in where: leave the field out instead")
        if key in ("and", "or"):
            subs = [f for f in (to_filter(t, w, types, depth) for w in value) if f is not None]
            if key == "and":
                parts.extend(subs)
            else:
                parts.append(Or(tuple(subs)))
        elif key == "not":
            sub = to_filter(t, value, types, depth)
            if sub is not None:
                parts.append(Not(sub))
        elif key in t.relationships:
            related = _related(t, key, value, types or {}, depth + 1)
            if related is not None:
                parts.append(related)
        else:
            field = t.fields[key]
            for op, operand in value.items():
                if operand is None:
                    raise BadUserInput(f"`{key}: {{{op}: null}}`: use `isNull: true` to ask for nulls")
                if op.endswith("Field"):  # `gtField: "ssh.harga"`
                    parts.append(_field_comparison(t, key, _OPS[op[: -len("Field")]], operand, types or {}))
                else:
                    parts.append(Cmp(field, _OPS[op], tuple(operand) if op in ("in", "nin") else operand))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


_FLIPPED: dict[Op, Op] = {"eq": "eq", "neq": "neq", "lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}


def _field_comparison(
    t: DatasetTypes, key: str, op: Op, path: str, types: Mapping[str, DatasetTypes]
) -> Filter:
    """`key <op> path`: a field of the same row (`hargaSatuan`), or of the row a to-one
    relationship leads to (`ssh.harga`), which becomes an `Exists` on that row comparing
    its field with this row's (`harga <flipped op> outer hargaSatuan`)."""
    field = t.fields[key]
    rel, _, name = path.rpartition(".")
    target = t
    if rel:  # a to-one relationship to a dataset this audience sees
        to_one = {
            r: types[spec.to]
            for r, (_, spec) in t.relationships.items()
            if not spec.many and spec.to in types
        }
        if rel not in to_one:
            raise BadUserInput(
                f"`{key}` is compared with {path!r}: {rel!r} is not a to-one relationship of "
                f"{t.dataset.qualified} (those are: {', '.join(sorted(to_one)) or 'none'})"
            )
        target = to_one[rel]
    if name not in target.fields or target.fields[name] not in target.access.read:
        raise BadUserInput(
            f"`{key}` is compared with {path!r}: {target.dataset.qualified} has no field {name!r}"
        )
    other = target.fields[name]
    mine, theirs = t.dataset.fields[field].type, target.dataset.fields[other].type
    if mine != theirs and not {mine, theirs} <= NUMERIC_TYPES:
        raise BadUserInput(f"`{key}` ({mine}) cannot be compared with {path!r} ({theirs})")
    if not rel:
        return Cmp(field, op, FieldRef(other))
    rel_name, spec = t.relationships[rel]
    ((own, join),) = spec.join.items()
    return Exists(rel_name, own, spec.to, join, Cmp(other, _FLIPPED[op], FieldRef(field, outer=True)))


def _related(
    t: DatasetTypes, key: str, value: Mapping[str, Any], types: Mapping[str, DatasetTypes], depth: int
) -> Filter | None:
    """`{rel: {...}}` as `Exists`: to-one `{exists, <target where>}`; to-many `{some,
    none, every}` (every: no related row fails it; true where there is none)."""
    name, spec = t.relationships[key]
    if depth > RELATED_DEPTH:
        raise QueryTooComplex(
            f"relationship filters nest at most {RELATED_DEPTH} deep; `{key}` is at depth {depth}",
            limit="relationship depth",
        )
    target = types[spec.to]
    ((own, theirs),) = spec.join.items()

    def exists(inner: Mapping[str, Any] | None) -> Exists:
        return Exists(name, own, spec.to, theirs, to_filter(target, inner, types, depth))

    if not spec.many:
        inner = {k: v for k, v in value.items() if k != "exists"}
        wanted = value.get("exists", True)
        if wanted is None:
            raise BadUserInput(f"`{key}: {{exists: null}}`: give true or false")
        if not wanted and inner:
            raise BadUserInput(
                f"`{key}: {{exists: false, ...}}` asks for rows without a related row whose fields "
                "hold something: there is none; use `not` for rows whose related row fails a condition"
            )
        return exists(inner) if wanted else Not(exists(None))
    parts: list[Filter] = []
    for quantifier, inner in value.items():
        if inner is None:
            raise BadUserInput(f"`{key}: {{{quantifier}: null}}`: leave it out instead")
        if quantifier == "some":
            parts.append(exists(inner))
        elif quantifier == "none":
            parts.append(Not(exists(inner)))
        else:  # every: no related row for which it does not hold
            condition = to_filter(target, inner, types, depth)
            if condition is not None:
                parts.append(Not(Exists(name, own, spec.to, theirs, Not(condition))))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def to_order(t: DatasetTypes, order_by: list[Mapping[str, str]] | None) -> tuple[Order, ...]:
    key = t.dataset.key
    order: list[Order] = []
    for item in order_by or ():
        if len(item) != 1:
            raise BadUserInput(
                "each orderBy object names exactly one field, e.g. [{kecamatan: ASC}, {nama: DESC}]"
            )
        ((name, direction),) = item.items()
        field = t.fields[name]
        if any(o.field == field for o in order):
            raise BadUserInput(f"orderBy names {name!r} twice")
        order.append(Order(field, direction == "DESC"))
        if field == key:
            return tuple(order)  # the key is unique: nothing after it changes the order
    order.append(Order(key))
    return tuple(order)


def plan_node(
    types: Mapping[str, DatasetTypes], t: DatasetTypes, sel: dict[str, Selected], q: FieldInputs
) -> NodePlan:
    """The union of everything selected on a node, wherever it was selected."""
    fields: dict[str, None] = {}
    output: set[str] = set()
    rels: list[RelPlan] = []
    for key, s in sel.items():
        if s.name in t.fields:
            fields[t.fields[s.name]] = None
            output.add(t.fields[s.name])
        elif s.name in t.relationships:
            _, spec = t.relationships[s.name]
            ((own, theirs),) = spec.join.items()
            fields[own] = None
            target = types[spec.to]
            sub = plan_node(types, target, collect(s.nodes, q.fragments, q.variables), q)
            rels.append(RelPlan(key, spec.to, own, theirs, spec.many, sub))
    return NodePlan(tuple(fields), tuple(rels), frozenset(output))


def read_plan(
    types: Mapping[str, DatasetTypes],
    t: DatasetTypes,
    sel: dict[str, Selected],
    args: Mapping[str, Any],
    q: FieldInputs,
    cursors: Cursors,
    memo: StepMemo = NEVER,
) -> ReadPlan:
    """The plan of one dataset field, with everything the caller asked for (what only
    the selection decides kept in `memo`)."""
    first = args.get("first")
    if first is None or first < 0 or first > q.max_first:
        raise BadUserInput(f"`first` must be between 0 and {q.max_first}")
    where = to_filter(t, args.get("where"), types)
    order = to_order(t, args.get("orderBy"))
    ds = t.dataset
    after = None
    if args.get("after") is not None:
        types_ = [ds.fields[o.field].type for o in order]
        after = cursors.decode(args["after"], ds.qualified, order, types_, filter_scope(where))

    def node_of_selection() -> NodePlan:
        node_sels = _node_selections(sel, q)
        return plan_node(
            types, t, collect([n for s in node_sels for n in s.nodes], q.fragments, q.variables), q
        )

    node = memo.get("node", node_of_selection)
    wants_cursor = any(s.name in ("edges", "pageInfo") for s in sel.values())
    if wants_cursor:  # cursors need the order values of every row
        extra = tuple(o.field for o in order if o.field not in node.fields)
        node = NodePlan(node.fields + extra, node.relationships, node.output)
    want_rows = any(s.name in ("nodes", "edges", "pageInfo") for s in sel.values())
    if want_rows and not node.fields:  # only `__typename` asked: the key counts the rows
        node = NodePlan((ds.key,), node.relationships, node.output)
    want_total = any(s.name == "totalCount" for s in sel.values())
    sort = tuple(t.fields[name] for item in args.get("orderBy") or () for name in item)
    return ReadPlan(ds.qualified, node, where, order, sort, after, first, want_rows, want_total)


def _node_selections(sel: dict[str, Selected], q: FieldInputs) -> list[Selected]:
    """Every `nodes` and `edges { node }` selection of a connection."""
    out = [s for s in sel.values() if s.name == "nodes"]
    for s in sel.values():
        if s.name == "edges":
            out += [e for e in collect(s.nodes, q.fragments, q.variables).values() if e.name == "node"]
    return out
