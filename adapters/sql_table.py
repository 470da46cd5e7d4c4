"""A SQL source's tables as SQLAlchemy Core objects, and the hub's filters, orderings and
keyset positions as SQL expressions on them (adapters/sql.py runs the statements).
`filter_shape` and `filter_values` split a filter into what decides the SQL text (the
key of a cached statement) and the values it binds, in the same order.

Example:
    >>> table = Table(binding)
    >>> table.where(Cmp("kecamatan", "eq", "Meral"), bind)
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from adapters.base import And, Binding, Cmp, Exists, FieldRef, Filter, Not, Or, Order
from adapters.sql_pg import Binds

SQL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "string": sa.String(),
    "integer": sa.BigInteger(),
    "float": sa.Float(),
    "decimal": sa.Numeric(asdecimal=True),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
}


class Table:
    """A dataset's table as SQLAlchemy Core objects, addressed by field name."""

    def __init__(self, binding: Binding) -> None:
        if not binding.table:
            raise ValueError(f"{binding.name}: an sql dataset needs `table`")
        schema, _, name = binding.table.rpartition(".")
        cols = [
            sa.column(binding.columns[f], SQL_TYPES[t], is_literal=False) for f, t in binding.types.items()
        ]
        self.binding = binding
        self.table: sa.FromClause = sa.table(name, *cols, schema=schema or None)
        self.col: dict[str, ColumnElement[Any]] = {f: self.table.c[binding.columns[f]] for f in binding.types}
        self.key = binding.key
        self.others: Mapping[str, Table] = {}  # the source's tables, for relationship filters

    def aliased(self, name: str) -> Table:
        """The same table under another name, for a correlated subquery (it may be this one)."""
        other = copy.copy(self)
        other.table = self.table.alias(name)
        other.col = {f: other.table.c[self.binding.columns[f]] for f in self.binding.types}
        return other

    def where(
        self, f: Filter, bind: Binds, depth: int = 0, outer: Table | None = None
    ) -> ColumnElement[bool]:
        """Binds values depth first, left to right (the order `filter_values` lists them).
        A relationship filter (both datasets in this source) is a correlated EXISTS; in
        its filter, `outer` is the table it filters."""
        if isinstance(f, Cmp) and isinstance(f.value, FieldRef):
            other = outer if f.value.outer else self
            assert other is not None, f
            return _compare_columns(self.col[f.field], f.op, other.col[f.value.field])
        if isinstance(f, Cmp):
            return _compare(self.col[f.field], f, bind)
        if isinstance(f, And):
            return sa.and_(sa.true(), *(self.where(p, bind, depth, outer) for p in f.parts))
        if isinstance(f, Or):
            return sa.or_(sa.false(), *(self.where(p, bind, depth, outer) for p in f.parts))
        if isinstance(f, Not):  # two-valued: NULL counts as false
            return self.where(f.part, bind, depth, outer).is_not(sa.true())
        if isinstance(f, Exists):
            target = self.others[f.target].aliased(f"related_{depth}")
            joined = target.col[f.target_field] == self.col[f.own_field]
            if f.where is not None:
                joined = sa.and_(joined, target.where(f.where, bind, depth + 1, self))
            return sa.exists().where(joined)
        raise TypeError(f"not a filter: {f!r}")

    def order_by(self, order: Sequence[Order]) -> list[ColumnElement[Any]]:
        """NULLs as the largest value, portably (MariaDB has no NULLS LAST)."""
        out: list[ColumnElement[Any]] = []
        for o in order:
            c = self.col[o.field]
            if o.field != self.key:
                nulls = sa.case((c.is_(None), 1), else_=0)
                out.append(nulls.desc() if o.descending else nulls.asc())
            out.append(c.desc() if o.descending else c.asc())
        return out

    def after(self, order: Sequence[Order], values: Sequence[Any], bind: Binds) -> ColumnElement[bool]:
        """Rows strictly after the row whose order values are `values` (keyset); binds
        each non-NULL value once, in order."""
        alternatives: list[ColumnElement[bool]] = []
        equal: list[ColumnElement[bool]] = []
        for o, v in zip(order, values, strict=True):
            c = self.col[o.field]
            beyond: ColumnElement[bool]
            same: ColumnElement[bool]
            if v is not None:
                v = bind(v, c.type)  # booleans too: `c > true` needs a bound value
            if v is None:
                beyond = sa.false() if not o.descending else c.is_not(None)
                same = c.is_(None)
            elif o.descending:
                beyond, same = c < v, c == v
            else:
                beyond = (c > v) if o.field == self.key else sa.or_(c > v, c.is_(None))
                same = c == v
            alternatives.append(sa.and_(*equal, beyond) if equal else beyond)
            equal.append(same)
        return sa.or_(*alternatives)


def _compare_columns(a: ColumnElement[Any], op: str, b: ColumnElement[Any]) -> ColumnElement[bool]:
    """Two columns compared; with a NULL on either side only `neq` holds."""
    if op == "neq":
        return sa.or_(a != b, a.is_(None), b.is_(None))
    compared: ColumnElement[bool] = {
        "eq": a == b, "lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b,
    }[op]  # fmt: skip
    return compared


def _compare(c: ColumnElement[Any], f: Cmp, bind: Binds) -> ColumnElement[bool]:
    v = f.value
    if v is None and f.op != "isNull":  # nothing equals NULL, everything differs from it
        return sa.true() if f.op in ("neq", "nin") else sa.false()
    if f.op == "isNull":
        return c.is_(None) if v else c.is_not(None)
    if f.op == "in":
        return bind.one_of(c, v)  # type: ignore[no-any-return]
    if f.op == "nin":
        return sa.or_(bind.one_of(c, v, negate=True), c.is_(None))
    v = bind(v, c.type)
    match f.op:
        case "eq":
            cmp: ColumnElement[bool] = c == v
            return cmp
        case "neq":
            return sa.or_(c != v, c.is_(None))
        case "lt":
            cmp = c < v
            return cmp
        case "lte":
            cmp = c <= v
            return cmp
        case "gt":
            cmp = c > v
            return cmp
        case "gte":
            cmp = c >= v
            return cmp
        case "like":
            return c.ilike(v)
    raise ValueError(f"unknown operator {f.op!r}")


def filter_shape(f: Filter | None) -> Hashable:
    """What of a filter decides its SQL text: structure, fields, operators, NULLs."""
    if f is None:
        return None
    if isinstance(f, Cmp) and isinstance(f.value, FieldRef):
        return (f.field, f.op, f.value)
    if isinstance(f, Cmp):
        return (f.field, f.op, bool(f.value) if f.op == "isNull" else f.value is None)
    if isinstance(f, Not):
        return ("not", filter_shape(f.part))
    if isinstance(f, Exists):
        return ("exists", f.own_field, f.target, f.target_field, filter_shape(f.where))
    return (type(f).__name__, tuple(filter_shape(p) for p in f.parts))


def filter_values(f: Filter | None, out: list[Any]) -> list[Any]:
    """The values `Table.where` binds for `f`, in the same order."""
    if isinstance(f, Cmp):
        if f.value is not None and f.op != "isNull" and not isinstance(f.value, FieldRef):
            out.append(list(f.value) if f.op in ("in", "nin") else f.value)
    elif isinstance(f, Not):
        filter_values(f.part, out)
    elif isinstance(f, Exists):
        filter_values(f.where, out)
    elif f is not None:
        for part in f.parts:
            filter_values(part, out)
    return out
