"""Write plan results as the GraphQL answer, directly as JSON-ready dicts.

A shape is compiled once per request from the selection: for every response key,
where its value sits in the row and how to write it. Writing a page is then one
pass over the rows, with no per-value trip through graphql-core's executor (a
resolver call per value: the bulk of an answer's cost if it were done that way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from graphql import FieldNode

from adapters.base import Filter, Row
from hub.catalog.names import pascal
from hub.cursor import Cursors, filter_scope
from hub.gql.scalars import OUTPUT, UNCHANGED
from hub.gql.selection import Selected, collect
from hub.plan import NodePlan, ReadPlan

if TYPE_CHECKING:
    from hub.fetch import ReadResult
    from hub.gql.dataset_types import DatasetTypes

SCALAR, ONE, MANY, CONSTANT = range(4)


@dataclass(frozen=True)
class Denied:
    """A selected field the caller may not have: written as null, reported once.

    `path` leads from the dataset field to the field with list indices left out:
    the error applies to that field in every row."""

    path: tuple[str, ...]
    nodes: list[FieldNode]
    message: str


@dataclass(frozen=True)
class NodeShape:
    entries: tuple[tuple[str, int, int, Any], ...]  # (response key, kind, row index, payload)

    @cached_property
    def write(self) -> Callable[[Row], dict[str, Any]]:
        """Row -> the node's JSON-ready dict, compiled into one dict display per row."""
        return _compile(self)


@lru_cache(maxsize=2048)  # shapes repeat request after request; compiling costs ~0.1 ms
def _compile(shape: NodeShape) -> Callable[[Row], dict[str, Any]]:
    """A function `row -> dict` for `shape`, generated as Python source. The source holds
    only names and row positions of our own making (never a key or value from the
    request: those are bound as variables), so a row costs one dict display instead of
    a loop over the entries."""
    scope: dict[str, Any] = {}
    items = []
    for i, (key, kind, at, payload) in enumerate(shape.entries):
        scope[f"k{i}"] = key
        if kind == SCALAR and payload is None:
            value = f"row[{int(at)}]"
        elif kind == SCALAR and payload in UNCHANGED:  # most values need no call: W3's ints
            scope[f"f{i}"], scope[f"t{i}"] = payload, UNCHANGED[payload]
            value = f"(v if (v := row[{int(at)}]).__class__ is t{i} or v is None else f{i}(v))"
        elif kind == SCALAR:
            scope[f"f{i}"] = payload
            value = f"(None if row[{int(at)}] is None else f{i}(row[{int(at)}]))"
        elif kind == CONSTANT:
            scope[f"c{i}"] = payload
            value = f"c{i}"
        elif kind == ONE:
            scope[f"w{i}"] = payload.write
            value = f"(None if row[{int(at)}] is None else w{i}(row[{int(at)}]))"
        else:
            scope[f"w{i}"] = payload.write
            value = f"list(map(w{i}, row[{int(at)}]))"
        items.append(f"k{i}: {value}")
    exec(f"def write(row):\n    return {{{', '.join(items)}}}\n", scope)  # noqa: S102 - see above
    write: Callable[[Row], dict[str, Any]] = scope["write"]
    return write


def node_shape(
    types: Mapping[str, DatasetTypes],
    t: DatasetTypes,
    sel: Mapping[str, Selected],
    plan: NodePlan,
    fragments: Mapping[str, Any],
    variables: Any,
    path: tuple[str, ...],
    denied: list[Denied],
) -> NodeShape:
    width = len(plan.fields)
    rel_at = {r.name: (width + i, r) for i, r in enumerate(plan.relationships)}
    entries: list[tuple[str, int, int, Any]] = []
    for key, s in sel.items():
        if s.name == "__typename":
            entries.append((key, CONSTANT, -1, t.node.name))
        elif s.name in t.fields and t.fields[s.name] in plan.output:
            field = t.fields[s.name]
            entries.append((key, SCALAR, plan.index(field), OUTPUT[t.dataset.fields[field].type]))
        elif key in rel_at:
            at, rel = rel_at[key]
            target = types[rel.target]
            sub_sel = collect(s.nodes, fragments, variables)
            sub = node_shape(types, target, sub_sel, rel.node, fragments, variables, (*path, key), denied)
            entries.append((key, MANY if rel.many else ONE, at, sub))
        else:
            entries.append((key, CONSTANT, -1, None))
            what = f"{t.dataset.qualified}.{t.fields.get(s.name) or t.relationships[s.name][0]}"
            denied.append(Denied((*path, key), s.nodes, f"you may not read {what}"))
    return NodeShape(tuple(entries))


Writer = Callable[["ReadResult", Callable[[Row], str]], Any]


@dataclass(frozen=True)
class ConnectionShape:
    entries: tuple[tuple[str, Writer], ...]
    cursor_of: Callable[[Row, str], str]  # (row, scope) -> cursor
    denied: tuple[Denied, ...]

    def write(self, result: ReadResult, where: Filter | None) -> dict[str, Any]:
        """The connection's answer; its cursors are good for this `where` only."""
        scope: str | None = None

        def cursor_of(row: Row) -> str:
            nonlocal scope
            if scope is None:
                scope = filter_scope(where)
            return self.cursor_of(row, scope)

        return {key: writer(result, cursor_of) for key, writer in self.entries}


def shape_connection(
    types: Mapping[str, DatasetTypes],
    t: DatasetTypes,
    sel: Mapping[str, Selected],
    fragments: Mapping[str, Any],
    variables: Any,
    cursors: Cursors,
    plan: ReadPlan,
) -> ConnectionShape:
    node = plan.node
    denied: list[Denied] = []

    def shape_of(s: Selected, path: tuple[str, ...]) -> NodeShape:
        sub = collect(s.nodes, fragments, variables)
        return node_shape(types, t, sub, node, fragments, variables, path, denied)

    entries: list[tuple[str, Writer]] = []
    name = pascal(t.dataset.opd, t.dataset.name)
    for key, s in sel.items():
        if s.name == "nodes":
            entries.append((key, _nodes(shape_of(s, (key,)))))
        elif s.name == "edges":
            parts = [(k, e.name, shape_of(e, (key, k)) if e.name == "node" else None)
                     for k, e in collect(s.nodes, fragments, variables).items()]  # fmt: skip
            entries.append((key, _edges(parts, f"{name}Edge")))
        elif s.name == "pageInfo":
            entries.append((key, _page_info(list(collect(s.nodes, fragments, variables).items()))))
        elif s.name == "totalCount":
            entries.append((key, lambda r, _c: r.total))
        elif s.name == "__typename":
            entries.append((key, _constant(f"{name}Connection")))
    order_at = (
        [node.fields.index(o.field) for o in plan.order]
        if all(o.field in node.fields for o in plan.order)
        else []
    )

    def cursor_of(row: Row, scope: str) -> str:
        return cursors.encode(plan.dataset, plan.order, [row[i] for i in order_at], scope)

    return ConnectionShape(tuple(entries), cursor_of, tuple(denied))


def _constant(value: Any) -> Writer:
    return lambda _r, _c: value


def _nodes(shape: NodeShape) -> Writer:
    return lambda r, _c: list(map(shape.write, r.rows))


def _edges(parts: list[tuple[str, str, NodeShape | None]], typename: str) -> Writer:
    def write(r: ReadResult, cursor_of: Callable[[Row], str]) -> list[dict[str, Any]]:
        out = []
        for row in r.rows:
            edge: dict[str, Any] = {}
            for key, name, shape in parts:
                if shape is not None:
                    edge[key] = shape.write(row)
                elif name == "cursor":
                    edge[key] = cursor_of(row)
                else:
                    edge[key] = typename
            out.append(edge)
        return out

    return write


def _page_info(parts: list[tuple[str, Selected]]) -> Writer:
    def write(r: ReadResult, cursor_of: Callable[[Row], str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, s in parts:
            if s.name == "hasNextPage":
                out[key] = r.has_next
            elif s.name == "endCursor":
                out[key] = cursor_of(r.rows[-1]) if r.rows else None
            else:
                out[key] = "PageInfo"
        return out

    return write
