"""Relationship filters on fields the caller may only match: verifications, not searches.

`{penduduk: {statusHidup: {eq: false}}}` on Dinsos's recipients asks, for every
recipient, whether Dukcapil's record of that NIK says dead: one comparison per record,
as the Match field makes them. A caller who may read the related fields asks anything;
one who may only match them (or only match the target's join field) gets the match
rules instead (`verifications`):

- the relationship leads to the target's key, so each row names one record;
- it sits directly in the filter of the dataset asked (not inside another relationship);
- each field it may only match is compared with one value (`eq`, or `in` with one),
  at the top level of the relationship's filter, beside nothing that could OR it away;
- the records it names (the rows' join values, hub/semijoin.py fetches them first) are
  charged to the request's and the day's comparisons, and each (record, field, value)
  is a guess against the target's budget, before the target is asked.

Anything else is FORBIDDEN, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import Cmp, Exists, Filter, Not, conjuncts
from hub.errors import Forbidden
from hub.policy.access import filter_uses
from hub.policy.decisions import Pair


@dataclass(frozen=True)
class Verification:
    exists: Exists
    compared: tuple[tuple[str, Any], ...]  # (target field, its one value) per match-only field


def verifications(
    dataset: str, where: Filter | None, allowed: Mapping[Pair, bool], keys: Mapping[str, str]
) -> dict[Exists, Verification]:
    """The relationship filters of `where` that are verifications, by their `Exists`;
    FORBIDDEN for one that breaks the rules above. `keys`: each dataset's key field."""
    out: dict[Exists, Verification] = {}
    for exists in _outer(where):
        if not _match_only(exists, allowed, dataset):
            _no_deeper(exists.where, exists.target, allowed)
            continue
        target_field = f"{exists.target}.{exists.target_field}"
        if exists.target_field != keys[exists.target]:
            raise Forbidden(
                f"{target_field} is not the key of {exists.target}, so the relationship {exists.name} "
                "does not name one record per row: comparing fields you may only match through it "
                "needs read on them", object=target_field, action="read",
            )  # fmt: skip
        out[exists] = Verification(exists, _compared(exists, allowed, dataset))
    return out


def _outer(f: Filter | None) -> list[Exists]:
    """The relationship filters directly in a filter (not those inside them)."""
    if f is None or isinstance(f, Cmp):
        return []
    if isinstance(f, Exists):
        return [f]
    if isinstance(f, Not):
        return _outer(f.part)
    return [e for p in f.parts for e in _outer(p)]


def _readable(obj: str, allowed: Mapping[Pair, bool]) -> bool:
    return bool(allowed.get((obj, "read")))


def _match_only(exists: Exists, allowed: Mapping[Pair, bool], dataset: str) -> bool:
    """Whether the relationship filter uses a related field the caller may not read."""
    if not _readable(f"{exists.target}.{exists.target_field}", allowed):
        return True
    uses = filter_uses(exists.where, exists.target, outer=dataset)
    return any(not _readable(obj, allowed) for obj, _, _ in uses)


def _compared(exists: Exists, allowed: Mapping[Pair, bool], dataset: str) -> tuple[tuple[str, Any], ...]:
    """Each match-only comparison of the relationship's own filter, held to one value at
    its top level; a relationship inside it must be readable throughout."""
    out: list[tuple[str, Any]] = []
    for part in conjuncts(exists.where):
        if isinstance(part, Cmp):
            obj = f"{exists.target}.{part.field}"
            if _readable(obj, allowed):
                continue
            if part.op == "in" and len(part.value) != 1:
                raise Forbidden(
                    f"{obj} may only be compared with one value per record: `in` with {len(part.value)} "
                    "values would test that many guesses at once", object=obj, action="match",
                )  # fmt: skip
            out.append((part.field, part.value[0] if part.op == "in" else part.value))
        else:
            _only_readable(part, exists.target, allowed, dataset)
    return tuple(out)


def _only_readable(f: Filter, dataset: str, allowed: Mapping[Pair, bool], outer: str = "") -> None:
    """FORBIDDEN for a field of `f` the caller may only match (it is inside `or`, `not` or
    a further relationship, where one value per record cannot be held to)."""
    for obj, _, _ in filter_uses(f, dataset, outer=outer):
        if not _readable(obj, allowed):
            raise Forbidden(
                f"{obj} may only be compared, at the top level of a relationship filter and with one "
                "value: not inside `or`, `not` or a further relationship", object=obj, action="read",
            )  # fmt: skip


def _no_deeper(f: Filter | None, dataset: str, allowed: Mapping[Pair, bool]) -> None:
    """A readable relationship filter may hold further relationships only if readable too."""
    for inner in _outer(f):
        _only_readable(inner, dataset, allowed)
