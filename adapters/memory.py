"""The adapter contract evaluated in Python over rows already in memory.

Sources that cannot filter, sort, count or group themselves (most REST APIs, a
remote hub for some questions) fetch their rows and let this module answer, with
exactly the semantics of `adapters/base.py` (the contract suite holds SQL and this
module to the same answers). Strings compare by code point, as SQLite does.

`MemoryAdapter` serves a fixed set of rows: the fake for tests about the hub's own
logic, never for tests of an adapter (those run against the real source).
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

from adapters.base import (
    Adapter,
    AggregateQuery,
    And,
    Binding,
    Cmp,
    FieldRef,
    Filter,
    Not,
    Or,
    Order,
    PageQuery,
    Row,
    SourceError,
)
from adapters.cellkey import cell_key, record_key

Record = Mapping[str, Any]


def _like(pattern: str) -> re.Pattern[str]:
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _cmp(f: Cmp, v: Any) -> bool:
    if f.op == "isNull":
        return (v is None) == bool(f.value)
    if v is None:
        return f.op in ("neq", "nin")
    match f.op:
        case "eq":
            return bool(v == f.value)
        case "neq":
            return bool(v != f.value)
        case "in":
            return v in f.value
        case "nin":
            return v not in f.value
        case "lt":
            return bool(v < f.value)
        case "lte":
            return bool(v <= f.value)
        case "gt":
            return bool(v > f.value)
        case "gte":
            return bool(v >= f.value)
        case "like":
            return _like(f.value).fullmatch(str(v)) is not None
    raise ValueError(f"unknown operator {f.op!r}")


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Two fields' values as SQL compares them: a float with a decimal as floats (Python
    compares them exactly, so 150.1 == Decimal("150.1") is false)."""
    if isinstance(a, float) and isinstance(b, Decimal):
        return a, float(b)
    if isinstance(a, Decimal) and isinstance(b, float):
        return float(a), b
    return a, b


def matches(f: Filter | None, r: Record, outer: Record | None = None) -> bool:
    """Whether record `r` passes `f`; `outer`: the record a relationship filter filters,
    whose fields a `FieldRef(outer=True)` names (hub/semijoin.py)."""
    if f is None:
        return True
    if isinstance(f, Cmp) and isinstance(f.value, FieldRef):
        other = (outer if f.value.outer else r) or {}
        mine, value = _comparable(r[f.field], other[f.value.field])
        if value is None:
            return f.op == "neq"
        return _cmp(Cmp(f.field, f.op, value), mine)
    if isinstance(f, Cmp):
        return _cmp(f, r[f.field])
    if isinstance(f, And):
        return all(matches(p, r, outer) for p in f.parts)
    if isinstance(f, Or):
        return any(matches(p, r, outer) for p in f.parts)
    if isinstance(f, Not):
        return not matches(f.part, r, outer)
    raise TypeError(f"not a filter: {f!r}")


def _compare_values(a: Any, b: Any) -> int:
    """NULL is the largest value."""
    if a is None or b is None:
        return (a is None) - (b is None)
    return int(a > b) - int(a < b)


def _row_order(order: Sequence[Order]) -> Callable[[Record, Record], int]:
    def compare(x: Record, y: Record) -> int:
        for o in order:
            c = _compare_values(x[o.field], y[o.field])
            if c:
                return -c if o.descending else c
        return 0

    return compare


def page(records: Iterable[Record], q: PageQuery) -> list[Row]:
    compare = _row_order(q.order)
    rows = [r for r in records if matches(q.where, r)]
    if q.after is not None:
        position = dict(zip((o.field for o in q.order), q.after, strict=True))
        rows = [r for r in rows if compare(r, position) > 0]
    rows.sort(key=cmp_to_key(compare))
    return [tuple(r[f] for f in q.fields) for r in rows[: q.limit]]


def count(records: Iterable[Record], where: Filter | None) -> int:
    return sum(1 for r in records if matches(where, r))


def lookup(
    records: Iterable[Record], key: str, field: str, values: Sequence[Any], fields: Sequence[str]
) -> list[Row]:
    wanted = set(values)
    found = sorted((r for r in records if r[field] in wanted), key=cmp_to_key(_row_order([Order(key)])))
    return [tuple(r[f] for f in fields) for r in found]


_MEASURES: dict[str, Callable[[list[Any]], Any]] = {
    "sum": lambda vs: sum(vs) if vs else None,
    "avg": lambda vs: sum(vs) / len(vs) if vs else None,
    "min": lambda vs: min(vs) if vs else None,
    "max": lambda vs: max(vs) if vs else None,
}


def aggregate(records: Iterable[Record], q: AggregateQuery) -> list[Row]:
    groups: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for r in records:
        if matches(q.where, r):
            groups[tuple(r[f] for f in q.group_by)].append(r)
    if not q.group_by and not groups:
        groups[()] = []
    keys = sorted(groups, key=lambda k: tuple((v is None, v) for v in k))  # NULLs last
    out = []
    for key in keys:
        rows = groups[key]
        measures = [_MEASURES[fn]([r[f] for r in rows if r[f] is not None]) for fn, f in q.measures]
        if q.cell_key is not None:
            prefix, field = q.cell_key.prefix, q.cell_key.field
            measures.append(cell_key(record_key(prefix, r[field]) for r in rows))
        out.append((*key, len(rows), *measures))
    return out


class MemoryAdapter(Adapter):
    """Serves `rows` (config key: dataset name -> list of records) from memory."""

    def __init__(self, name: str, config: Mapping[str, Any], bindings: Sequence[Binding]) -> None:
        self.name = name
        self.bindings = {b.name: b for b in bindings}
        self.rows: dict[str, list[Record]] = {
            b.name: list(config.get("rows", {}).get(b.name, [])) for b in bindings
        }

    async def fetch(self, query: PageQuery) -> list[Row]:
        return page(self.rows[query.dataset], query)

    async def count(self, dataset: str, where: Filter | None) -> int:
        return count(self.rows[dataset], where)

    async def lookup(
        self,
        dataset: str,
        field: str,
        values: Sequence[Any],
        fields: tuple[str, ...],
        limit: int | None = None,
    ) -> list[Row]:
        return lookup(self.rows[dataset], self.bindings[dataset].key, field, values, fields)[:limit]

    async def aggregate(self, query: AggregateQuery) -> list[Row]:
        return aggregate(self.rows[query.dataset], query)

    async def health(self) -> None:
        return None


class RowBudgetExceeded(SourceError):
    """A source would have to hand over more rows than `max_rows` to answer."""


def pushdown_equalities(where: Filter | None, fields: Iterable[str]) -> dict[str, Any]:
    """`eq` conditions on `fields` that every matching row must satisfy (top-level And)."""
    parts = where.parts if isinstance(where, And) else (where,) if where is not None else ()
    wanted = set(fields)
    return {
        p.field: p.value
        for p in parts
        if isinstance(p, Cmp) and p.op == "eq" and p.field in wanted and not isinstance(p.value, FieldRef)
    }


class RecordsAdapter(Adapter):
    """An adapter for sources that can only list records (optionally narrowed by a few
    equality parameters): it fetches them, at most `max_rows`, and answers the rest of
    the contract in memory. Subclasses implement `records`.

    Identical listings asked for while one is in flight share it (single flight): a
    page and its totalCount, which the hub asks for together, cost the source one
    listing and are counted over the same records. Nothing is kept once it is done."""

    def __init__(self, name: str, config: Mapping[str, Any], bindings: Sequence[Binding]) -> None:
        self.name = name
        self.bindings = {b.name: b for b in bindings}
        self.max_rows = int(config.get("max_rows") or 50_000)
        self._in_flight: dict[Hashable, asyncio.Task[list[Record]]] = {}

    async def records(self, dataset: str, equal: Mapping[str, Any]) -> list[Record]:
        """Every record of `dataset` (typed, keyed by field name) whose fields equal
        `equal` where the source can narrow by them; more records are fine. Raise
        RowBudgetExceeded past `self.max_rows`."""
        raise NotImplementedError

    def pushable(self, dataset: str) -> Iterable[str]:
        """Fields the source can narrow by (see `records`)."""
        return ()

    async def _rows(self, dataset: str, where: Filter | None) -> list[Record]:
        equal = pushdown_equalities(where, self.pushable(dataset))
        try:
            key: Hashable = (dataset, frozenset(equal.items()))
            hash(key)
        except TypeError:  # a value that cannot be a key: no sharing
            return await self.records(dataset, equal)
        task = self._in_flight.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self.records(dataset, equal))
            self._in_flight[key] = task
            task.add_done_callback(lambda t: self._landed(key, t))
        # A waiter that gives up (its timeout) leaves the listing to the others.
        return await asyncio.shield(task)

    def _landed(self, key: Hashable, task: asyncio.Task[list[Record]]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every waiter left

    async def fetch(self, query: PageQuery) -> list[Row]:
        return page(await self._rows(query.dataset, query.where), query)

    async def count(self, dataset: str, where: Filter | None) -> int:
        return count(await self._rows(dataset, where), where)

    async def lookup(
        self,
        dataset: str,
        field: str,
        values: Sequence[Any],
        fields: tuple[str, ...],
        limit: int | None = None,
    ) -> list[Row]:
        if len(values) == 1:
            rows = await self._rows(dataset, Cmp(field, "eq", values[0]))
        else:
            rows = await self._rows(dataset, None)
        return lookup(rows, self.bindings[dataset].key, field, values, fields)[:limit]

    async def aggregate(self, query: AggregateQuery) -> list[Row]:
        return aggregate(await self._rows(query.dataset, query.where), query)
