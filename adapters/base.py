"""The whole adapter contract: what the hub asks of a source.

An adapter serves the datasets of one source. The hub hands it plain descriptions of
what to fetch (`PageQuery`, `Filter`) and gets rows back as tuples in the order of the
requested fields. Adapters know nothing of GraphQL, policy or callers.

Rules every adapter follows:
- `fetch` returns at most `limit` rows, ordered by `order` (which always ends with the
  dataset key), starting strictly after the row whose order values are `after`.
  NULLs sort after every value when ascending and before every value when descending.
- Comparisons never match NULL, except `neq`/`nin` (a NULL differs from any value)
  and `isNull`; `Not` is two-valued: it holds where its part does not hold.
- `like` is case-insensitive, with `%` and `_` as wildcards.
- Failures raise `SourceError` (reason for the log, never shown to callers), or
  `QueryRejected` when the source answered but refused what it was asked; the hub
  applies each source's timeout around every call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Op = Literal["eq", "neq", "in", "nin", "lt", "lte", "gt", "gte", "isNull", "like"]
EQUALITY_OPS: frozenset[str] = frozenset({"eq", "in"})
Row: TypeAlias = tuple[Any, ...]  # or anything that indexes and unpacks like one (SQLAlchemy's Row)


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A comparison's value that is another field's: of the same row, or (`outer`, in
    the filter of an `Exists`) of the row the `Exists` filters. Only `eq`, `neq`, `lt`,
    `lte`, `gt` and `gte` take one; a NULL on either side holds only for `neq`."""

    field: str
    outer: bool = False


@dataclass(frozen=True, slots=True)
class Cmp:
    """`field <op> value`; for `in`/`nin` the value is a tuple, for `isNull` a bool, and
    for a comparison of two fields a `FieldRef`."""

    field: str
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Filter


@dataclass(frozen=True, slots=True)
class Exists:
    """Rows with at least one row of `target` whose `target_field` equals their
    `own_field` and for which `where` holds (None: any such row). `name` is the
    relationship's, for messages. An adapter sees an `Exists` only where its `joins`
    says it answers it itself; the hub resolves every other into an `in` list
    (hub/semijoin.py)."""

    name: str
    own_field: str
    target: str  # `opd.dataset`
    target_field: str
    where: Filter | None = None


Filter: TypeAlias = Cmp | And | Or | Not | Exists


def filter_fields(f: Filter | None) -> set[str]:
    """Every field of the filtered dataset a filter mentions."""
    if f is None:
        return set()
    if isinstance(f, Cmp):
        return {f.field}
    if isinstance(f, Exists):
        return {f.own_field}
    if isinstance(f, Not):
        return filter_fields(f.part)
    return set().union(*(filter_fields(p) for p in f.parts))


def conjuncts(f: Filter | None) -> list[Filter]:
    """The parts an `and` (nested or not) holds at its top level: `{and: [{a, b}, {c}]}`
    is a, b and c; any other filter is itself."""
    if f is None:
        return []
    return [c for p in f.parts for c in conjuncts(p)] if isinstance(f, And) else [f]


@dataclass(frozen=True, slots=True)
class Order:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Binding:
    """How one dataset sits in its source.

    Attributes:
        name: `opd.dataset`, for messages.
        key: the unique field.
        types: field -> catalog type (`string`, `integer`, `float`, `decimal`,
            `boolean`, `date`, `datetime`).
        columns: field -> column name (sql, file) or dotted path (rest, graphql).
        table: the table (sql), possibly schema-qualified.
        options: adapter-specific dataset keys (rest: path, records, pagination).
    """

    name: str
    key: str
    types: Mapping[str, str]
    columns: Mapping[str, str]
    table: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageQuery:
    dataset: str  # `opd.dataset`
    fields: tuple[str, ...]
    where: Filter | None = None
    order: tuple[Order, ...] = ()
    after: tuple[Any, ...] | None = None
    limit: int = 100


Measure = Literal["sum", "avg", "min", "max"]


@dataclass(frozen=True)
class CellKey:
    """Ask an aggregate for each group's cell key (adapters/cellkey.py): `prefix` is
    what the hub puts before each record's `field` (the dataset's key) before hashing."""

    prefix: str
    field: str


@dataclass(frozen=True)
class AggregateQuery:
    """Rows of (*group values, count, *measure values), one per group, in group order;
    with `cell_key`, each row ends with the group's cell key, a whole number in [0, 2^32)."""

    dataset: str
    group_by: tuple[str, ...]
    where: Filter | None = None
    measures: tuple[tuple[Measure, str], ...] = ()
    cell_key: CellKey | None = None
    # for a source that perturbs by its own rules (a remote hub; `computes_cell_keys`
    # False): each row ends with whether that source perturbed it
    published: bool = False
    # at most this many rows, the first groups in order (a remote hub answers all its
    # groups: the caller counts them); None: every group
    limit: int | None = None


class SourceError(Exception):
    """A source failed; the message is for the log only."""


class QueryRejected(SourceError):
    """The source answered, and refused the statement or request the hub built (a syntax
    error, a limit of the source's such as too many bound values, a value it cannot
    take). The hub's error, not the source's: it does not count against the source."""


class ValueRejected(QueryRejected):
    """The source refused a value the request carried, not the statement the hub built: a
    character or a number it cannot hold (PostgreSQL's text has no NUL character; an
    integer past 64 bits). The caller's input, answered as BAD_USER_INPUT."""


class Adapter(ABC):
    """One source. Create with `(name, config, bindings)`; see `adapters.create`."""

    computes_cell_keys = True  # False: the source perturbs by its own rules (AggregateQuery.published)

    def joins(self, dataset: str, target: str) -> bool:
        """Whether a filter on `dataset` may hold an `Exists` on `target` (both served
        here, answered in one statement); otherwise the hub resolves it first."""
        return False

    @abstractmethod
    async def fetch(self, query: PageQuery) -> list[Row]:
        """One page of rows, values in `query.fields` order."""

    @abstractmethod
    async def count(self, dataset: str, where: Filter | None) -> int:
        """How many rows match `where`."""

    @abstractmethod
    async def lookup(
        self,
        dataset: str,
        field: str,
        values: Sequence[Any],
        fields: tuple[str, ...],
        limit: int | None = None,
    ) -> list[Row]:
        """All rows whose `field` is one of `values`, in key order, values in `fields` order;
        with `limit`, at most that many (a caller that must not hold more asks for one more)."""

    @abstractmethod
    async def aggregate(self, query: AggregateQuery) -> list[Row]:
        """Group, count and measure; groups ordered by their values (NULLs last)."""

    @abstractmethod
    async def health(self) -> None:
        """Return when the source answers; raise SourceError otherwise."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
