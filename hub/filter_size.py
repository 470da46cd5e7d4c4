"""How big a `where` may be: checked when the request is planned, before any source
sees it.

One `where` becomes one statement, and sources have limits of their own: SQLite
refuses an expression more than 1,000 deep or more than 32,766 bound values, and
every `like` term is a pattern match per row scanned. A caller's question beyond
these bounds is `QUERY_TOO_COMPLEX`, so it never reaches (or fails at) the source.

    terms       comparisons plus `and`, `or` and `not`, wherever they sit
    in_values   the values of every `in` and `nin` list of the `where`, together
    like_terms  `like` comparisons; each pattern at most LIKE_LENGTH characters
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.base import Cmp, Filter, Not
from hub.errors import QueryTooComplex

LIKE_LENGTH = 200


@dataclass(frozen=True)
class FilterLimits:
    terms: int = 200
    in_values: int = 1000
    like_terms: int = 10


@dataclass
class _Tally:
    terms: int = 0
    in_values: int = 0
    like_terms: int = 0


def check_filter_size(where: Filter | None, limits: FilterLimits, dataset: str) -> None:
    """QUERY_TOO_COMPLEX when `where` exceeds a limit; the message says which."""
    if where is None:
        return
    tally = _Tally()
    _count(where, tally)
    for what, used, limit, setting in (
        ("terms (comparisons, and, or, not)", tally.terms, limits.terms, "HUB_MAX_FILTER_TERMS"),
        ("values in in/nin lists", tally.in_values, limits.in_values, "HUB_MAX_IN_VALUES"),
        ("like comparisons", tally.like_terms, limits.like_terms, "HUB_MAX_LIKE_TERMS"),
    ):
        if used > limit:
            raise QueryTooComplex(
                f"the where of {dataset} has {used} {what}; the limit is {limit} ({setting})",
                limit=setting,
            )


def _count(f: Filter, tally: _Tally) -> None:
    tally.terms += 1
    if isinstance(f, Cmp):
        if f.op in ("in", "nin"):
            tally.in_values += len(f.value)
        elif f.op == "like":
            tally.like_terms += 1
            if isinstance(f.value, str) and len(f.value) > LIKE_LENGTH:
                raise QueryTooComplex(
                    f"a like pattern has {len(f.value)} characters; the limit is {LIKE_LENGTH}"
                )
    elif isinstance(f, Not):
        _count(f.part, tally)
    else:
        for part in f.parts:
            _count(part, tally)
