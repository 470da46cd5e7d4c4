"""Match: GraphQL records -> a `MatchPlan`, and its verdicts -> the answer.

A match answers only whether the given values agree with the source's record for the
key; it never returns the source's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.gql.dataset_types import DatasetTypes
from hub.gql.selection import Selected
from hub.plan import MatchPlan


def match_plan(t: DatasetTypes, records: list[Mapping[str, Any]]) -> MatchPlan:
    ds = t.dataset
    own = {k for k, f in t.fields.items() if k == f}  # response names that are the field names
    plain = tuple(
        r
        if r.keys() <= own and None not in r.values()
        else {t.fields[k]: v for k, v in r.items() if v is not None}
        for r in records
    )
    given = set().union(*(r.keys() for r in plain)) - {ds.key}
    fields = tuple(f for f in ds.fields if f in given)
    normalize = {f: ds.fields[f].normalize for f in (ds.key, *fields)}
    return MatchPlan(ds.qualified, ds.key, plain, fields, normalize)


def write_matches(t: DatasetTypes, sel: Mapping[str, Selected], answers: list[dict[str, Any]]) -> list[Any]:
    typename = t.match_result.name if t.match_result else ""
    keys = [(key, None if s.name == "__typename" else t.fields.get(s.name, s.name)) for key, s in sel.items()]
    if answers and [(k, k) for k in answers[0]] == keys:  # asked for exactly what they hold, in order
        return answers
    return [{key: typename if f is None else a.get(f) for key, f in keys} for a in answers]
