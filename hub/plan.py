"""What a request will do, decided before anything runs.

The GraphQL layer translates a dataset field's selection and arguments into a
`ReadPlan`; the executor runs it on the adapters. A plan names fields by their
catalog names and carries everything needed to run it, so the policy step can see
every (object, action) pair up front.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import Filter, Measure, Order


@dataclass(frozen=True)
class RelPlan:
    """Rows of `target` whose `target_field` equals the node's `own_field`."""

    name: str
    target: str  # `opd.dataset`
    own_field: str
    target_field: str
    many: bool
    node: NodePlan


@dataclass(frozen=True)
class NodePlan:
    """Per row: the scalar fields to fetch, then one value per relationship (in order).

    `output` are the fields the caller selected; the others are fetched only for the
    hub's own use (join keys, cursor positions) and never returned.
    """

    fields: tuple[str, ...]
    relationships: tuple[RelPlan, ...] = ()
    output: frozenset[str] = frozenset()

    def index(self, field: str) -> int:
        return self.fields.index(field)


@dataclass(frozen=True)
class ReadPlan:
    dataset: str  # `opd.dataset`
    node: NodePlan
    where: Filter | None
    order: tuple[Order, ...]  # ends with the key, ascending
    sort: tuple[str, ...]  # the fields the caller asked to sort by
    after: tuple[Any, ...] | None
    first: int
    want_rows: bool
    want_total: bool


@dataclass(frozen=True)
class MatchPlan:
    """Verify records against a dataset without returning its values.

    `records` map catalog field names to the caller's values and all carry the key;
    `fields` are the other fields given in any record.
    """

    dataset: str
    key: str
    records: tuple[Mapping[str, Any], ...]
    fields: tuple[str, ...]
    normalize: Mapping[str, tuple[str, ...]]  # field -> steps (see hub.normalize)


@dataclass(frozen=True)
class RelatedGroup:
    """A group key taken from the row a to-one relationship leads to: `field` of
    `target`, whose `target_field` (its key) equals the row's `own_field`."""

    relationship: str  # the catalog's name, for messages
    own_field: str
    target: str
    target_field: str
    field: str


@dataclass(frozen=True)
class AggregatePlan:
    dataset: str
    group_by: tuple[str, ...]
    where: Filter | None
    measures: tuple[tuple[Measure, str], ...]
    related_groups: tuple[RelatedGroup, ...] = ()

    @property
    def width(self) -> int:
        """Group values per row: the dataset's own, then the related ones."""
        return len(self.group_by) + len(self.related_groups)
