"""What one request has released so far: the audit step reads it before the answer goes.

Resolvers note each dataset field they answered: the (object, action) pairs used and
how many rows or match records were touched. A release is non-public when a pair
names a field not classified `public`; an aggregate over such a field counts whatever
its groups published (hub/gql/pipeline.py `note_aggregate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.catalog import Catalog
from hub.errors import BadUserInput, PurposeRequired, QuotaExceeded
from hub.plan import NodePlan
from hub.policy.decisions import Pair


def count_rows(node: NodePlan, rows: Sequence[Any]) -> int:
    """Rows on this level plus every related row under them: one pass per relationship
    and level, not a call per row (W3's 100 recipients cost 100 calls)."""
    total = len(rows)
    width = len(node.fields)
    for i, rel in enumerate(node.relationships):
        values = [row[width + i] for row in rows]
        if not rel.many:
            total += count_rows(rel.node, [v for v in values if v is not None])
        elif rel.node.relationships:
            total += sum(count_rows(rel.node, v) for v in values)
        else:
            total += sum(map(len, values))
    return total


@dataclass
class Ledger:
    catalog: Catalog
    purpose: str | None = None
    pairs: set[Pair] = field(default_factory=set)
    rows: int = 0
    records: int = 0
    non_public: bool = False
    compared: int = 0  # records named for comparison so far: match records, key-anchored rows
    over_quota: QuotaExceeded | None = None  # set when a field was refused for the daily quota
    limited: int = 0  # comparisons withheld or refused for a spent guess budget
    disclosure: set[str] = field(default_factory=set)  # "opd.dataset:method" of protected aggregates

    def charge_comparisons(self, records: int, most: int) -> None:
        """Count `records` more compared by this request; BAD_USER_INPUT past `most`, so
        that aliases cannot multiply a per-field limit."""
        if self.compared + records > most:
            raise BadUserInput(
                f"at most {most} records may be compared per request, across all fields and "
                f"aliases; this field would bring the request to {self.compared + records}"
            )
        self.compared += records

    def _classification(self, obj: str) -> str:
        return self.catalog.classification.get(obj, "confidential")  # unknown: the strictest

    def private(self, pairs: Iterable[Pair]) -> list[Pair]:
        return [p for p in pairs if self._classification(p[0]) != "public"]

    def require_purpose(self, pairs: Iterable[Pair]) -> None:
        """PURPOSE_REQUIRED if a non-public pair touches a dataset that needs a purpose."""
        if self.purpose:
            return
        for obj, _ in self.private(pairs):
            dataset = obj.rsplit(".", 1)[0]
            if self.catalog.dataset(dataset).spec.require_purpose:
                raise PurposeRequired(
                    f"{dataset} needs a purpose: send the case or letter number as the X-Hub-Purpose header",
                    dataset=dataset,
                )

    def note(self, pairs: Iterable[Pair], rows: int = 0, records: int = 0, released: bool = True) -> None:
        pairs = set(pairs)
        self.pairs |= pairs
        self.rows += rows
        self.records += records
        if released and self.private(pairs):
            self.non_public = True

    def datasets(self) -> tuple[str, ...]:
        return tuple(sorted({obj.rsplit(".", 1)[0] for obj, _ in self.pairs}))
