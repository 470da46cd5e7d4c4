"""How big the filters of a request may be: checked when each dataset field is
planned, before any source sees it.

One `where` becomes one statement, and sources have limits of their own: SQLite
refuses an expression more than 1,000 deep or more than 32,766 bound values. A
`like` is a pattern match on every row scanned, and a request may repeat one `where`
under a hundred aliases, so `like` comparisons are counted over the whole request.
A question beyond these bounds is `QUERY_TOO_COMPLEX`, so it never reaches (or fails
at) the source.

    terms       per `where`: comparisons plus `and`, `or` and `not`, wherever they sit
    in_values   per `where`: the values of every `in` and `nin` list, together
    like_terms  per request: `like` comparisons in every `where` together; each
                pattern at most LIKE_LENGTH characters
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.base import Cmp, Exists, Filter, Not
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


class FilterBudget:
    """One request's allowance; `check` each `where` as its dataset field is planned."""

    def __init__(self, limits: FilterLimits) -> None:
        self.limits = limits
        self.like_terms = 0  # spent by the request's earlier fields

    def check(self, where: Filter | None, dataset: str) -> None:
        """QUERY_TOO_COMPLEX when `where` exceeds a limit; the message says which."""
        if where is None:
            return
        tally = _Tally()
        _count(where, tally)
        self.like_terms += tally.like_terms
        limits = self.limits
        for what, used, limit, setting in (
            (f"the where of {dataset} has {tally.terms} terms (comparisons, and, or, not)",
             tally.terms, limits.terms, "HUB_MAX_FILTER_TERMS"),
            (f"the where of {dataset} has {tally.in_values} values in in/nin lists",
             tally.in_values, limits.in_values, "HUB_MAX_IN_VALUES"),
            (f"with the where of {dataset}, the request has {self.like_terms} like comparisons",
             self.like_terms, limits.like_terms, "HUB_MAX_LIKE_TERMS"),
        ):  # fmt: skip
            if used > limit:
                raise QueryTooComplex(f"{what}; the limit is {limit} ({setting})", limit=setting)


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
    elif isinstance(f, Exists):  # a relationship filter: one term, and its own filter's
        if f.where is not None:
            _count(f.where, tally)
    else:
        for part in f.parts:
            _count(part, tally)
