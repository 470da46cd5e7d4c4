"""SQL sources (SQLite, PostgreSQL, MariaDB/MySQL) through SQLAlchemy's async engine.

Everything is pushed down as parameterised SQL: projection, filters, ordering,
keyset pagination and counts. One connection pool per source.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.base import (
    Adapter,
    AggregateQuery,
    Binding,
    Filter,
    PageQuery,
    QueryRejected,
    Row,
    SourceError,
    ValueRejected,
)
from adapters.cellkey import LISTING_DIALECTS, ListedKeys, cell_key_column, listed_cell_key, register
from adapters.pg_pool import IDLE_TIMEOUT
from adapters.sql_cancel import Stopper
from adapters.sql_pg import Binds, Build, PgRunner, pg_rejected, pg_value_refused, statement_for_log
from adapters.sql_table import Table, filter_shape, filter_values

_MEASURES: dict[str, Any] = {"sum": sa.func.sum, "avg": sa.func.avg, "min": sa.func.min, "max": sa.func.max}


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


# MariaDB/MySQL error numbers about a value: out of range, incorrect, a string it cannot hold.
_MARIADB_VALUES = frozenset({1264, 1292, 1366})


def _value_refused(e: BaseException) -> bool:
    """Did the database refuse a value the statement carried (the caller's input)?"""
    if not isinstance(e, DBAPIError) or e.connection_invalidated or e.orig is None:
        return False
    sqlstate = getattr(e.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return pg_value_refused(sqlstate)
    number = e.orig.args[0] if e.orig.args else None
    return isinstance(number, int) and number in _MARIADB_VALUES


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
        self.tables = {b.name: Table(b) for b in bindings}
        for table in self.tables.values():
            table.others = self.tables
        self._tables_seen = False

    async def _all(self, stmt: sa.Executable) -> list[Row]:
        try:
            async with self.engine.connect() as conn:
                result = await conn.execute(stmt)
                return result.all()  # type: ignore[return-value]  # Rows index like tuples; no copy
        except (SQLAlchemyError, OSError) as e:
            error = ValueRejected if _value_refused(e) else QueryRejected if _rejected(e) else SourceError
            raise error(f"{self.name}: {_reason(e)}") from e
        except OverflowError as e:  # sqlite3 binding an integer beyond 64 bits
            raise ValueRejected(f"{self.name}: a value too large for the source's integers") from e

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
        self,
        dataset: str,
        field: str,
        values: Sequence[Any],
        fields: tuple[str, ...],
        limit: int | None = None,
    ) -> list[Row]:
        if not values:
            return []
        t = self.tables[dataset]

        def build(bind: Binds) -> sa.Select[Any]:
            stmt = sa.select(*(t.col[f] for f in fields)).where(bind.one_of(t.col[field], values))
            stmt = stmt.order_by(t.col[t.key])
            return stmt if limit is None else stmt.limit(bind(limit, sa.Integer()))

        key = ("lookup", dataset, field, fields, limit is not None)
        return await self._run(key, build, lambda: [list(values)] if limit is None else [list(values), limit])

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
            ordered = sa.select(*grouped.c).order_by(*order)
            return ordered if query.limit is None else ordered.limit(bind(query.limit, sa.Integer()))

        def values() -> list[Any]:
            out = filter_values(query.where, list(prefix))
            return out if query.limit is None or not query.group_by else [*out, query.limit]

        shape = filter_shape(query.where)
        keyed, limited = query.cell_key is not None, query.limit is not None
        key = ("aggregate", query.dataset, query.group_by, query.measures, shape, keyed, listed, limited)
        prefix = [query.cell_key.prefix] if query.cell_key is not None and not listed else []
        rows = await self._run(key, build, values)
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
