"""SQL sources (SQLite, PostgreSQL, MariaDB/MySQL) through SQLAlchemy's async engine.

Everything is pushed down as parameterised SQL: projection, filters, ordering,
keyset pagination and counts. One connection pool per source.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Mapping, Sequence
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
    Exists,
    FieldRef,
    Filter,
    Not,
    Or,
    Order,
    PageQuery,
    QueryRejected,
    Row,
    SourceError,
)
from adapters.cellkey import LISTING_DIALECTS, ListedKeys, cell_key_column, listed_cell_key, register
from adapters.pg_pool import IDLE_TIMEOUT
from adapters.sql_cancel import Stopper
from adapters.sql_pg import Binds, Build, PgRunner, pg_rejected, statement_for_log

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
        self.binding = binding
        self.table: sa.FromClause = sa.table(name, *cols, schema=schema or None)
        self.col: dict[str, ColumnElement[Any]] = {f: self.table.c[binding.columns[f]] for f in binding.types}
        self.key = binding.key
        self.others: Mapping[str, _Table] = {}  # the source's tables, for relationship filters

    def aliased(self, name: str) -> _Table:
        """The same table under another name, for a correlated subquery (it may be this one)."""
        other = copy.copy(self)
        other.table = self.table.alias(name)
        other.col = {f: other.table.c[self.binding.columns[f]] for f in self.binding.types}
        return other

    def where(
        self, f: Filter, bind: Binds, depth: int = 0, outer: _Table | None = None
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


_MEASURES: dict[str, Any] = {"sum": sa.func.sum, "avg": sa.func.avg, "min": sa.func.min, "max": sa.func.max}


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


def _reason(e: BaseException) -> str:
    """Why a call failed, for the log: never a bound value, so no driver message text
    for statement errors (drivers quote offending values), only their class and code."""
    if isinstance(e, DBAPIError) and not e.connection_invalidated and e.orig is not None:
        code = (
            getattr(e.orig, "sqlstate", None)
            or getattr(e.orig, "sqlite_errorname", None)
            or getattr(e.orig, "args", [None])[0]
        )
        return f"{type(e.orig).__name__} (code {code}) in: {statement_for_log(e.statement)}"
    cause = e.orig if isinstance(e, DBAPIError) and e.orig is not None else e
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"


# SQLite's generic SQLITE_ERROR covers both kinds: a table or column that is not there
# is the source's trouble (it no longer fits the catalog); the rest of it (syntax, too
# many bound values, an expression tree too deep) is about the statement.
_SQLITE_REJECTS = frozenset({"SQLITE_ERROR", "SQLITE_TOOBIG", "SQLITE_RANGE", "SQLITE_MISMATCH"})
_SQLITE_MISSING = ("no such table", "no such column")
# MariaDB/MySQL error numbers about the statement: parse errors, too many placeholders,
# a statement too deep or too large, values out of range or of the wrong kind.
_MARIADB_REJECTS = frozenset({1064, 1149, 1153, 1264, 1292, 1366, 1390, 1436, 1690})


def _rejected(e: BaseException) -> bool:
    """Did the database answer and refuse the statement itself (the hub's fault)?"""
    if not isinstance(e, DBAPIError) or e.connection_invalidated or e.orig is None:
        return False
    sqlstate = getattr(e.orig, "sqlstate", None)
    if isinstance(sqlstate, str):  # PostgreSQL through a driver other than asyncpg
        return pg_rejected(sqlstate)
    name = getattr(e.orig, "sqlite_errorname", None)
    if name is not None:
        return name in _SQLITE_REJECTS and not str(e.orig).startswith(_SQLITE_MISSING)
    number = e.orig.args[0] if e.orig.args else None
    return isinstance(number, int) and number in _MARIADB_REJECTS


class SqlAdapter(Adapter):
    """Config keys: `url` (SQLAlchemy async URL), `pool_size`, `idle_timeout`.

    PostgreSQL runs on asyncpg directly with statements compiled once per shape
    (`adapters.sql_pg`); SQLite and MariaDB/MySQL run through SQLAlchemy's engine.
    """

    def __init__(self, name: str, config: Mapping[str, Any], bindings: Sequence[Binding]) -> None:
        url = config.get("url")
        if not url:
            raise ValueError(f"source {name}: the sql adapter needs `url`")
        self.name = name
        kwargs: dict[str, Any] = {}
        pool_size = int(config.get("pool_size", 5))
        idle_timeout = float(config.get("idle_timeout", IDLE_TIMEOUT))
        if not str(url).startswith("sqlite"):
            # No pre-ping: it costs a round trip per call. A connection found dead fails
            # that call (the breaker counts it) and SQLAlchemy then drops the whole pool.
            # Recycling connections older than idle_timeout keeps them well inside a
            # server's own idle limit (MariaDB's wait_timeout), so that rarely happens.
            kwargs = {"pool_size": pool_size, "pool_recycle": idle_timeout}
        # The hub only reads: autocommit spares each call its BEGIN and ROLLBACK round trips.
        self.engine: AsyncEngine = create_async_engine(
            url, hide_parameters=True, isolation_level="AUTOCOMMIT", **kwargs
        )
        backend = self.engine.url.get_backend_name()
        if backend == "sqlite":
            sa.event.listen(self.engine.sync_engine, "connect", register)
        self.pg = (
            PgRunner(name, self.engine.url, self.engine.dialect, pool_size, idle_timeout)
            if backend == "postgresql" and self.engine.url.get_driver_name() == "asyncpg"
            else None
        )
        self.stopper = Stopper(name, self.engine)  # stops statements whose calls are cancelled
        self.tables = {b.name: _Table(b) for b in bindings}
        for table in self.tables.values():
            table.others = self.tables
        self._tables_seen = False

    async def _all(self, stmt: sa.Executable) -> list[Row]:
        try:
            async with self.engine.connect() as conn:
                result = await conn.execute(stmt)
                return result.all()  # type: ignore[return-value]  # Rows index like tuples; no copy
        except (SQLAlchemyError, OSError) as e:
            error = QueryRejected if _rejected(e) else SourceError
            raise error(f"{self.name}: {_reason(e)}") from e
        except OverflowError as e:  # sqlite3 binding an integer beyond 64 bits
            raise QueryRejected(f"{self.name}: a value too large for the source's integers") from e

    async def _run(self, key: Hashable, build: Build, values: Callable[[], list[Any]]) -> list[Row]:
        """`build`'s statement; `values` lists what it binds, in order, without building it."""
        if self.pg is not None:
            return await self.pg.rows(key, build, values())
        return await self._all(build(Binds(arrays=False, json_lists=self.engine.dialect.name == "sqlite")))

    async def fetch(self, query: PageQuery) -> list[Row]:
        t = self.tables[query.dataset]

        def build(bind: Binds) -> sa.Select[Any]:
            stmt = sa.select(*(t.col[f] for f in query.fields)).select_from(t.table)
            conditions = []
            if query.where is not None:
                conditions.append(t.where(query.where, bind))
            if query.after is not None:
                conditions.append(t.after(query.order, query.after, bind))
            if conditions:
                stmt = stmt.where(*conditions)
            return stmt.order_by(*t.order_by(query.order)).limit(bind(query.limit, sa.Integer()))

        def values() -> list[Any]:
            out = filter_values(query.where, [])
            out += [v for v in query.after or () if v is not None]
            out.append(query.limit)
            return out

        after = None if query.after is None else tuple(v is None for v in query.after)
        key = ("fetch", query.dataset, query.fields, filter_shape(query.where), query.order, after)
        return await self._run(key, build, values)

    async def count(self, dataset: str, where: Filter | None) -> int:
        t = self.tables[dataset]

        def build(bind: Binds) -> sa.Select[Any]:
            stmt = sa.select(sa.func.count()).select_from(t.table)
            return stmt if where is None else stmt.where(t.where(where, bind))

        key = ("count", dataset, filter_shape(where))
        rows = await self._run(key, build, lambda: filter_values(where, []))
        return int(rows[0][0])

    async def lookup(
        self, dataset: str, field: str, values: Sequence[Any], fields: tuple[str, ...]
    ) -> list[Row]:
        if not values:
            return []
        t = self.tables[dataset]

        def build(bind: Binds) -> sa.Select[Any]:
            stmt = sa.select(*(t.col[f] for f in fields)).where(bind.one_of(t.col[field], values))
            return stmt.order_by(t.col[t.key])

        key = ("lookup", dataset, field, fields)
        return await self._run(key, build, lambda: [list(values)])

    def joins(self, dataset: str, target: str) -> bool:
        return dataset in self.tables and target in self.tables

    async def aggregate(self, query: AggregateQuery) -> list[Row]:
        if query.cell_key is not None and self.engine.url.get_backend_name() in LISTING_DIALECTS:
            listed = await self._aggregate(query, listed=True)
            width = len(query.group_by)
            keys = [listed_cell_key(query.cell_key.prefix, r[-1], int(r[width])) for r in listed]
            if None not in keys:
                return [(*r[:-1], k) for r, k in zip(listed, keys, strict=True)]
        return await self._aggregate(query)

    async def _aggregate(self, query: AggregateQuery, listed: bool = False) -> list[Row]:
        """With `listed` (SQLite), each group's keys joined by `SEPARATOR` instead of its
        cell key: hashed in Python with a cache, that costs half of what SQLite calling
        `hub_record_key` for each row does (bench/disclosure.py)."""
        t = self.tables[query.dataset]

        def build(bind: Binds) -> sa.Select[Any]:
            groups = [t.col[f] for f in query.group_by]
            measures = [_MEASURES[fn](t.col[f]) for fn, f in query.measures]
            if query.cell_key is not None and listed:
                measures.append(ListedKeys(t.col[query.cell_key.field]))
            elif query.cell_key is not None:  # bound first: `values` lists the prefix first
                prefix = bind(query.cell_key.prefix, sa.Text())
                measures.append(cell_key_column(prefix, t.col[query.cell_key.field]))
            stmt = sa.select(*groups, sa.func.count(), *measures).select_from(t.table)
            if query.where is not None:
                stmt = stmt.where(t.where(query.where, bind))
            if not groups:
                return stmt
            # the groups ordered outside the grouping: MariaDB plans a grouping ordered by
            # an expression (the NULLs-last CASE) as a full scan, even where an index
            # would find the few rows a long `in` list names (bench/across.py: 21 ms, not 7)
            grouped = stmt.group_by(*groups).subquery("groups")
            keys = list(grouped.c)[: len(groups)]
            order = [x for c in keys for x in (sa.case((c.is_(None), 1), else_=0).asc(), c.asc())]
            return sa.select(*grouped.c).order_by(*order)

        shape = filter_shape(query.where)
        keyed = query.cell_key is not None
        key = ("aggregate", query.dataset, query.group_by, query.measures, shape, keyed, listed)
        prefix = [query.cell_key.prefix] if query.cell_key is not None and not listed else []
        rows = await self._run(key, build, lambda: filter_values(query.where, list(prefix)))
        if not keyed or listed:
            return rows
        # a Decimal from PostgreSQL and MariaDB; NULL for no rows (a filter matching nothing)
        return [(*r[:-1], int(r[-1] or 0)) for r in rows]

    async def health(self) -> None:
        """The database answers; the first time, also that every table the catalog names is there."""
        database = self.engine.url.database
        is_file = self.engine.url.get_backend_name() == "sqlite" and database and database != ":memory:"
        if is_file and not Path(str(database)).exists():  # noqa: ASYNC240 - one stat; connecting would create the file
            raise SourceError(f"{self.name}: SQLite file does not exist")
        if self._tables_seen:
            await self._run(("health",), lambda _: sa.select(sa.literal_column("1")), list)
            return
        one: sa.ColumnClause[Any] = sa.literal_column("1")
        probes: list[sa.Select[Any]] = [
            sa.select(one).select_from(t.table).limit(1) for t in self.tables.values()
        ]
        try:  # every table in one round trip per batch: a source may hold hundreds
            for i in range(0, len(probes), 100):
                await self._run(("health", i), _constant(_all_of(probes[i : i + 100])), list)
        except SourceError:
            for name, probe in zip(self.tables, probes, strict=True):  # so the error names the table
                await self._run(("health", name), _constant(probe), list)
        self._tables_seen = True

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()
        await self.engine.dispose()
        await self.stopper.close()


def _all_of(probes: list[sa.Select[Any]]) -> sa.Select[Any]:
    return sa.select(sa.literal_column("1"), *(p.scalar_subquery() for p in probes))


def _constant(stmt: sa.Select[Any]) -> Build:
    return lambda _: stmt


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
    """The values `_Table.where` binds for `f`, in the same order."""
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
