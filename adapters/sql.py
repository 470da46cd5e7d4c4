"""SQL sources (SQLite, PostgreSQL, MariaDB/MySQL) through SQLAlchemy's async engine.

Everything is pushed down as parameterised SQL: projection, filters, ordering,
keyset pagination and counts. One connection pool per source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import ColumnElement

from adapters.base import (
    Adapter,
    AggregateQuery,
    And,
    Binding,
    Cmp,
    Filter,
    Not,
    Or,
    Order,
    PageQuery,
    Row,
    SourceError,
)

SQL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "string": sa.String(),
    "integer": sa.BigInteger(),
    "float": sa.Float(),
    "decimal": sa.Numeric(asdecimal=True),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
}


class _Table:
    """A dataset's table as SQLAlchemy Core objects, addressed by field name."""

    def __init__(self, binding: Binding) -> None:
        if not binding.table:
            raise ValueError(f"{binding.name}: an sql dataset needs `table`")
        schema, _, name = binding.table.rpartition(".")
        cols = [
            sa.column(binding.columns[f], SQL_TYPES[t], is_literal=False) for f, t in binding.types.items()
        ]
        self.table = sa.table(name, *cols, schema=schema or None)
        self.col: dict[str, sa.ColumnClause[Any]] = {
            f: self.table.c[binding.columns[f]] for f in binding.types
        }
        self.key = binding.key

    def where(self, f: Filter) -> ColumnElement[bool]:
        if isinstance(f, Cmp):
            return _compare(self.col[f.field], f)
        if isinstance(f, And):
            return sa.and_(sa.true(), *(self.where(p) for p in f.parts))
        if isinstance(f, Or):
            return sa.or_(sa.false(), *(self.where(p) for p in f.parts))
        if isinstance(f, Not):
            return self.where(f.part).is_not(sa.true())  # two-valued: NULL counts as false
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

    def after(self, order: Sequence[Order], values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after the row whose order values are `values` (keyset)."""
        alternatives: list[ColumnElement[bool]] = []
        equal: list[ColumnElement[bool]] = []
        for o, v in zip(order, values, strict=True):
            c = self.col[o.field]
            beyond: ColumnElement[bool]
            same: ColumnElement[bool]
            if v is not None:
                v = sa.literal(v, c.type)  # booleans too: `c > true` needs a bound value
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


_MEASURES: dict[str, Any] = {"sum": sa.func.sum, "avg": sa.func.avg, "min": sa.func.min, "max": sa.func.max}


def _compare(c: sa.ColumnClause[Any], f: Cmp) -> ColumnElement[bool]:
    v = f.value
    if v is None and f.op != "isNull":  # nothing equals NULL, everything differs from it
        return sa.true() if f.op in ("neq", "nin") else sa.false()
    match f.op:
        case "eq":
            cmp: ColumnElement[bool] = c == v
            return cmp
        case "neq":
            return sa.or_(c != v, c.is_(None))
        case "in":
            return c.in_(list(v))
        case "nin":
            return sa.or_(c.not_in(list(v)), c.is_(None))
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
        case "isNull":
            return c.is_(None) if v else c.is_not(None)
        case "like":
            return c.ilike(v)
    raise ValueError(f"unknown operator {f.op!r}")


def _reason(e: BaseException) -> str:
    """Why a call failed, for the log: never a bound value, so no driver message text
    for statement errors (drivers quote offending values), only their class and code."""
    if isinstance(e, DBAPIError) and not e.connection_invalidated and e.orig is not None:
        code = getattr(e.orig, "sqlstate", None) or getattr(e.orig, "args", [None])[0]
        return f"{type(e.orig).__name__} (code {code}) in: {e.statement}"
    cause = e.orig if isinstance(e, DBAPIError) and e.orig is not None else e
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"


class SqlAdapter(Adapter):
    """Config keys: `url` (SQLAlchemy async URL), `pool_size`."""

    def __init__(self, name: str, config: Mapping[str, Any], bindings: Sequence[Binding]) -> None:
        url = config.get("url")
        if not url:
            raise ValueError(f"source {name}: the sql adapter needs `url`")
        self.name = name
        kwargs: dict[str, Any] = {}
        if not str(url).startswith("sqlite"):
            # No pre-ping: it costs a round trip per call. A connection found dead fails
            # that call (the breaker counts it) and SQLAlchemy then drops the whole pool.
            kwargs = {"pool_size": int(config.get("pool_size", 5))}
        # The hub only reads: autocommit spares each call its BEGIN and ROLLBACK round trips.
        self.engine: AsyncEngine = create_async_engine(
            url, hide_parameters=True, isolation_level="AUTOCOMMIT", **kwargs
        )
        self.tables = {b.name: _Table(b) for b in bindings}
        self._tables_seen = False

    async def _all(self, stmt: sa.Executable) -> list[Row]:
        try:
            async with self.engine.connect() as conn:
                result = await conn.execute(stmt)
                return result.all()  # type: ignore[return-value]  # Rows index like tuples; no copy
        except (SQLAlchemyError, OSError) as e:
            raise SourceError(f"{self.name}: {_reason(e)}") from e

    async def fetch(self, query: PageQuery) -> list[Row]:
        t = self.tables[query.dataset]
        stmt = sa.select(*(t.col[f] for f in query.fields)).select_from(t.table)
        conditions = []
        if query.where is not None:
            conditions.append(t.where(query.where))
        if query.after is not None:
            conditions.append(t.after(query.order, query.after))
        if conditions:
            stmt = stmt.where(*conditions)
        stmt = stmt.order_by(*t.order_by(query.order)).limit(query.limit)
        return await self._all(stmt)

    async def count(self, dataset: str, where: Filter | None) -> int:
        t = self.tables[dataset]
        stmt = sa.select(sa.func.count()).select_from(t.table)
        if where is not None:
            stmt = stmt.where(t.where(where))
        rows = await self._all(stmt)
        return int(rows[0][0])

    async def lookup(
        self, dataset: str, field: str, values: Sequence[Any], fields: tuple[str, ...]
    ) -> list[Row]:
        if not values:
            return []
        t = self.tables[dataset]
        stmt = (
            sa.select(*(t.col[f] for f in fields))
            .where(t.col[field].in_(list(values)))
            .order_by(t.col[t.key])
        )
        return await self._all(stmt)

    async def aggregate(self, query: AggregateQuery) -> list[Row]:
        t = self.tables[query.dataset]
        groups = [t.col[f] for f in query.group_by]
        measures = [_MEASURES[fn](t.col[f]) for fn, f in query.measures]
        stmt = sa.select(*groups, sa.func.count(), *measures).select_from(t.table)
        if query.where is not None:
            stmt = stmt.where(t.where(query.where))
        if groups:
            stmt = stmt.group_by(*groups).order_by(*t.order_by([Order(f) for f in query.group_by]))
        return await self._all(stmt)

    async def health(self) -> None:
        """The database answers; the first time, also that every table the catalog names is there."""
        database = self.engine.url.database
        is_file = self.engine.url.get_backend_name() == "sqlite" and database and database != ":memory:"
        if is_file and not Path(str(database)).exists():  # noqa: ASYNC240 - one stat; connecting would create the file
            raise SourceError(f"{self.name}: SQLite file does not exist")
        if self._tables_seen:
            await self._all(sa.select(sa.literal(1)))
            return
        probes = [sa.select(sa.literal(1)).select_from(t.table).limit(1) for t in self.tables.values()]
        try:  # every table in one round trip per batch: a source may hold hundreds
            for i in range(0, len(probes), 100):
                await self._all(sa.select(sa.literal(1), *(p.scalar_subquery() for p in probes[i : i + 100])))
        except SourceError:
            for probe in probes:  # one at a time, so the error names the missing table
                await self._all(probe)
        self._tables_seen = True

    async def close(self) -> None:
        await self.engine.dispose()
