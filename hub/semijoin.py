"""Relationship filters answered across sources: every `Exists` in a filter becomes
`own_field in (values)` before the filter reaches the filtered dataset's adapter.

When both datasets live in one source that `joins` them (SQL), the `Exists` stays for
that source to answer in one statement (EXISTS). Otherwise two ways to find the values,
the one likely smaller first:

    target first  the `target_field` values of the target's rows for which the
                  relationship's own filter holds (its relationships resolved first);
    rows first    only for an `Exists` that is a conjunct of the whole filter (negated
                  or not): the `own_field` values of the rows the other conjuncts leave,
                  then which of them the target has a matching row for, asked in
                  `in` batches.

A bare existence test (`exists`, no filter on the target) goes rows first, since the
target side is the whole target; every other test goes target first. A verification
(a relationship filter on fields the caller may only match, hub/policy/related.py)
always goes rows first, and the rows' values are handed to `Join.check` (which charges
them as records compared and spends their guesses) before the target is asked. Each fetch may
hold at most its source's `max_rows` rows; when the first way passes that, the other is
tried, and when both do, the filter is QUERY_TOO_COMPLEX, naming the relationship.
Values the hub fetches here are its own: they never leave it, and the policy step has
decided every field the filter uses before this runs (hub/policy/access.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from adapters.base import Adapter, And, Cmp, Exists, FieldRef, Filter, Not, Or, Order, PageQuery
from adapters.memory import matches
from hub.errors import QueryTooComplex
from hub.sources import Calls

BATCH = 1000  # values per `in` when asking the target which of the rows' values it has


class _TooMany(Exception):
    pass


Check = Callable[[Exists, list[Any]], Awaitable[None]]


async def _unchecked(_exists: Exists, _named: list[Any]) -> None:
    return None


@dataclass(frozen=True)
class Join:
    """What resolving needs: the sources, each dataset's key (to page by), the filter's
    verifications and what to do with the records each names before the target is asked."""

    sources: Calls
    keys: Mapping[str, str]
    verified: Container[Exists] = frozenset()
    check: Check = _unchecked
    # the values one resolution fetched, by (dataset, field, filter): two tests of one
    # filter on the same rows (`exists: false` or dead) fetch them once
    fetched: dict[tuple[str, str, Filter | None], list[Any]] = field(default_factory=dict)


def has_exists(f: Filter | None) -> bool:
    if f is None:
        return False
    if isinstance(f, Exists):
        return True
    if isinstance(f, Cmp):
        return False
    if isinstance(f, Not):
        return has_exists(f.part)
    return any(has_exists(p) for p in f.parts)


async def resolve(j: Join, dataset: str, where: Filter | None) -> Filter | None:
    """`where` with every `Exists` replaced by an `in` list of the filtered dataset's
    values; unchanged (the same object) when it holds none."""
    if not has_exists(where):
        return where
    assert where is not None
    conjuncts = list(where.parts) if isinstance(where, And) else [where]
    # the conjuncts without relationships first: they bound the rows of `rows first`
    plain = [c for c in conjuncts if not has_exists(c)]
    resolved: list[Filter] = []
    for c in conjuncts:
        if not has_exists(c):
            continue
        exists, negated = _top_exists(c)
        if exists is None:  # inside `or` or deeper: target first, or a verification
            resolved.append(await _replace(j, c, dataset, _and(plain)))
            continue
        found = await _answer(j, exists, dataset, _and([*plain, *resolved]), conjunct=True)
        resolved.append(Not(found) if negated else found)
    return _and([*plain, *resolved])


def _top_exists(f: Filter) -> tuple[Exists | None, bool]:
    if isinstance(f, Exists):
        return f, False
    if isinstance(f, Not) and isinstance(f.part, Exists):
        return f.part, True
    return None, False


def _and(parts: list[Filter]) -> Filter | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


async def _replace(j: Join, f: Filter, dataset: str, rest: Filter | None) -> Filter:
    """Every `Exists` in `f` answered target first, or as a verification of the rows
    `rest` leaves."""
    if isinstance(f, Exists):
        return await _answer(j, f, dataset, rest, conjunct=False)
    if isinstance(f, Cmp):
        return f
    if isinstance(f, Not):
        return Not(await _replace(j, f.part, dataset, rest))
    parts = tuple([await _replace(j, p, dataset, rest) for p in f.parts])
    return And(parts) if isinstance(f, And) else Or(parts)


async def _answer(j: Join, exists: Exists, dataset: str, rest: Filter | None, conjunct: bool) -> Filter:
    """`exists` as a filter the source of `dataset` takes; `rest` bounds the rows it
    can hold for (`conjunct`: it is one of the filter's conjuncts, so it holds for no
    others)."""
    verified = exists in j.verified
    if not verified and _one_statement(j, dataset, exists):
        return await _inline(j, exists)
    try:
        if _refers_out(exists.where):
            return await _paired(j, exists, dataset, rest, checked=verified)
        if verified:
            return await _rows_first(j, exists, dataset, rest, checked=True)
    except _TooMany:
        raise _too_complex(exists, dataset) from None
    if conjunct:
        return await _either_way(j, dataset, exists, rest)
    try:
        return await _target_first(j, exists)
    except _TooMany:
        raise _too_complex(exists, None) from None


def _refers_out(f: Filter | None) -> bool:
    """Whether `f` (an `Exists`'s filter) compares with the outer row's fields."""
    if f is None or isinstance(f, Exists):
        return False
    if isinstance(f, Cmp):
        return isinstance(f.value, FieldRef) and f.value.outer
    if isinstance(f, Not):
        return _refers_out(f.part)
    return any(_refers_out(p) for p in f.parts)


def _used(f: Filter | None) -> tuple[set[str], set[str]]:
    """The fields of the related row and of the outer row that `f` compares."""
    if f is None:
        return set(), set()
    if isinstance(f, Cmp):
        if isinstance(f.value, FieldRef):
            return ({f.field}, {f.value.field}) if f.value.outer else ({f.field, f.value.field}, set())
        return {f.field}, set()
    if isinstance(f, Exists):
        return {f.own_field}, set()
    parts = [f.part] if isinstance(f, Not) else list(f.parts)
    mine: set[str] = set()
    outer: set[str] = set()
    for p in parts:
        a, b = _used(p)
        mine |= a
        outer |= b
    return mine, outer


async def _paired(j: Join, exists: Exists, dataset: str, rest: Filter | None, checked: bool) -> Filter:
    """An `Exists` whose filter compares the related row's fields with this row's
    (`{hargaSatuan: {gt: {field: "ssh.harga"}}}`): the rows `rest` leaves and their
    related rows fetched, each pair compared in the hub; the rows with a related row
    that passes, by key."""
    key = j.keys[dataset]
    related_fields, outer_fields = _used(exists.where)
    own_fields = tuple(dict.fromkeys((key, exists.own_field, *sorted(outer_fields))))
    rows = await _records(j, dataset, own_fields, rest)
    values = list(dict.fromkeys(r[exists.own_field] for r in rows if r[exists.own_field] is not None))
    if checked:
        await j.check(exists, values)
    inner = await resolve(j, exists.target, exists.where)
    wanted = tuple(dict.fromkeys((exists.target_field, j.keys[exists.target], *sorted(related_fields))))
    related: dict[Any, list[dict[str, Any]]] = {}
    for i in range(0, len(values), BATCH):
        batch = Cmp(exists.target_field, "in", tuple(values[i : i + BATCH]))
        for r in await _records(j, exists.target, wanted, batch):
            related.setdefault(r[exists.target_field], []).append(r)
    keys = [
        r[key] for r in rows
        if any(matches(inner, t, outer=r) for t in related.get(r[exists.own_field], ()))
    ]  # fmt: skip
    return Cmp(key, "in", tuple(keys))


async def _records(
    j: Join, dataset: str, fields: tuple[str, ...], where: Filter | None
) -> list[dict[str, Any]]:
    """The rows `where` leaves, as {field: value}; _TooMany past the source's max_rows."""
    source = j.sources.of_dataset[dataset]
    limit = source.max_rows
    query = PageQuery(dataset, fields, where, (Order(j.keys[dataset]),), None, limit + 1)
    rows = await j.sources.call(source, _fetch(query))
    if len(rows) > limit:
        raise _TooMany
    return [dict(zip(fields, r, strict=True)) for r in rows]


def _one_statement(j: Join, dataset: str, exists: Exists) -> bool:
    source = j.sources.of_dataset[dataset]
    return source is j.sources.of_dataset[exists.target] and source.adapter.joins(dataset, exists.target)


async def _inline(j: Join, exists: Exists) -> Exists:
    """The `Exists` as it is, for the source to answer in the statement, its own filter's
    relationships to other sources resolved first."""
    return replace(exists, where=await resolve(j, exists.target, exists.where))


async def _either_way(j: Join, dataset: str, exists: Exists, rest: Filter | None) -> Filter:
    if exists.where is None:
        ways = [_rows_first(j, exists, dataset, rest), _target_first(j, exists)]
    else:
        ways = [_target_first(j, exists), _rows_first(j, exists, dataset, rest)]
    try:
        for way in ways:
            try:
                return await way
            except _TooMany:
                continue
    finally:
        for way in ways:
            way.close()  # the way not taken never started
    raise _too_complex(exists, dataset)


def _too_complex(exists: Exists, dataset: str | None) -> QueryTooComplex:
    sides = f"from {exists.target} and from {dataset}" if dataset else f"from {exists.target}"
    return QueryTooComplex(
        f"the filter on the relationship {exists.name} (to {exists.target}) needs more rows than "
        f"the sources' max_rows {sides}: narrow the filter",
        limit="max_rows",
    )


async def _target_first(j: Join, exists: Exists) -> Filter:
    inner = await resolve(j, exists.target, exists.where)
    present = Cmp(exists.target_field, "isNull", False)
    where = present if inner is None else And((inner, present))
    values = await _values(j, exists.target, exists.target_field, where)
    return Cmp(exists.own_field, "in", tuple(values))


async def _rows_first(
    j: Join, exists: Exists, dataset: str, rest: Filter | None, checked: bool = False
) -> Filter:
    candidates = await _values(j, dataset, exists.own_field, rest)
    if checked:
        await j.check(exists, candidates)
    inner = await resolve(j, exists.target, exists.where)
    found: list[Any] = []
    for i in range(0, len(candidates), BATCH):
        batch = Cmp(exists.target_field, "in", tuple(candidates[i : i + BATCH]))
        found += await _values(j, exists.target, exists.target_field, _and([p for p in (inner, batch) if p]))
    return Cmp(exists.own_field, "in", tuple(dict.fromkeys(found)))


async def _values(j: Join, dataset: str, field: str, where: Filter | None) -> list[Any]:
    """The distinct non-null values of `field` in the rows `where` leaves; _TooMany past
    the source's max_rows rows."""
    known = j.fetched.get((dataset, field, where))
    if known is not None:
        return known
    source = j.sources.of_dataset[dataset]
    limit = source.max_rows
    query = PageQuery(dataset, (field,), where, (Order(j.keys[dataset]),), None, limit + 1)
    rows = await j.sources.call(source, _fetch(query))
    if len(rows) > limit:
        raise _TooMany
    values = j.fetched[(dataset, field, where)] = list(dict.fromkeys(r[0] for r in rows if r[0] is not None))
    return values


def _fetch(q: PageQuery) -> Callable[[Adapter], Awaitable[list[Any]]]:
    return lambda a: a.fetch(q)
