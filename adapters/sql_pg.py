"""PostgreSQL sources on asyncpg directly, without SQLAlchemy's execution layer.

SQLAlchemy still writes every statement, but only once per *shape* of query (the
dataset, fields, filter structure, ordering; never the values): the compiled text
is kept and each call only binds its values. asyncpg prepares each text once per
connection, so a repeated request costs one round trip and no SQL building. Lists
bind as one parameter, so a lookup of 1,000 keys is one short prepared statement, not
1,000 placeholders: lists of text or integers as one JSON text
(`= ANY(ARRAY(SELECT CAST(jsonb_array_elements_text($1) AS …)))`, the plan of an
array parameter), which orjson writes in microseconds where asyncpg's array encoder
checks every element against `collections.abc` (~0.7 µs a key: 0.4-0.6 ms of a
1,000-key match); other types as one array (`= ANY($1)`).

The rule it keeps: no per-request work that does not depend on the request's values.
Statement construction, compilation-cache lookups, result processing and the greenlet
hops of SQLAlchemy's async layer stay off the request path.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from adapters.admission import Doorkeeper
from adapters.base import QueryRejected, Row, SourceError, ValueRejected
from adapters.pg_pool import IDLE_TIMEOUT, Pool

PREFIX = "_v"  # the names of value parameters: _v0, _v1, … in the order they were bound
# Lists of these column types bind as one JSON text (module docstring); their values
# come as str and int, which JSON carries exactly and PostgreSQL casts back.
LISTED_AS_JSON = (sa.String, sa.Integer)
COMPILED_KEPT = 2_000  # compiled shapes kept per source, each asked for at least twice


class Binds:
    """Hands out bound parameters while a statement is built, recording their values."""

    def __init__(self, arrays: bool, json_lists: bool = False) -> None:
        self.arrays = arrays  # PostgreSQL: lists bind as one parameter
        self.json_lists = json_lists  # SQLite: long lists of text or integers bind as one JSON text
        self.values: list[Any] = []
        self.as_json: set[int] = set()  # values sent as JSON text

    def __call__(self, value: Any, type_: sa.types.TypeEngine[Any]) -> sa.BindParameter[Any]:
        name = f"{PREFIX}{len(self.values)}"
        self.values.append(value)
        return sa.bindparam(name, value, type_=type_)

    def one_of(self, c: sa.ColumnElement[Any], values: Sequence[Any], negate: bool = False) -> Any:
        if not self.arrays and self.json_lists and len(values) > JSON_LIST and _json_safe(c, values):
            # SQLite binds at most 32,766 values; a relationship filter's list can hold more
            text = self(orjson.dumps(list(values)).decode(), sa.Text())
            elements = sa.func.json_each(text).table_valued("value")
            subquery = sa.select(elements.c.value).scalar_subquery()
            return c.not_in(subquery) if negate else c.in_(subquery)
        if not self.arrays:
            return c.not_in(list(values)) if negate else c.in_(list(values))
        array: sa.ColumnElement[Any]
        if isinstance(c.type, LISTED_AS_JSON):
            self.as_json.add(len(self.values))
            listed = sa.cast(self(list(values), sa.Text()), JSONB)
            each = sa.select(sa.cast(sa.func.jsonb_array_elements_text(listed), c.type))
            array = sa.func.array(each.scalar_subquery(), type_=sa.ARRAY(c.type))  # ARRAY(SELECT …)
        else:
            array = self(list(values), sa.ARRAY(c.type))
        return c != sa.all_(array) if negate else c == sa.any_(array)


JSON_LIST = 500  # longer lists go to SQLite as one JSON text (json_each)


def _json_safe(c: sa.ColumnElement[Any], values: Sequence[Any]) -> bool:
    """Whether SQLite compares the column with JSON's values as with the values bound
    one by one: text and whole numbers (dates, decimals and floats are stored by
    SQLAlchemy in forms JSON would not reproduce)."""
    if isinstance(c.type, sa.String):
        return all(isinstance(v, str) for v in values)
    if isinstance(c.type, sa.Integer):
        return all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    return False


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: tuple[tuple[int, Any], ...]  # per $n: (index into the values, or -1 and a constant)
    as_json: tuple[int, ...] = ()  # positions ($n - 1) whose value is sent as JSON text

    def bind(self, values: Sequence[Any]) -> list[Any]:
        out = [values[i] if i >= 0 else constant for i, constant in self.params]
        for n in self.as_json:
            out[n] = orjson.dumps(out[n]).decode()
        return out


Build = Callable[[Binds], "sa.Select[Any]"]


class PgRunner:
    """One source's connection pool (adapters/pg_pool.py) and its statement cache."""

    def __init__(
        self, name: str, url: sa.URL, dialect: Dialect, pool_size: int, idle_timeout: float = IDLE_TIMEOUT
    ) -> None:
        import asyncpg  # noqa: F401 - fail here, at start, if the driver is missing

        self.name = name
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.dialect = dialect
        self.pool_size = pool_size
        self.idle_timeout = idle_timeout
        self._pool: Pool | None = None
        self._compiled: OrderedDict[Hashable, Compiled] = OrderedDict()  # least recently used first
        self._seen = Doorkeeper()  # shapes asked for before: only they are kept
        self.listeners: list[Callable[[str], None]] = []  # told each statement's text (tests count them)

    def compile(self, key: Hashable, build: Build, values: Sequence[Any]) -> Compiled:
        found = self._compiled.get(key)
        if found is not None:
            self._compiled.move_to_end(key)
            return found
        binds = Binds(arrays=True)
        compiled = build(binds).compile(dialect=self.dialect)
        if len(binds.values) != len(values) or any(
            a is not b and a != b for a, b in zip(binds.values, values, strict=True)
        ):
            raise AssertionError(f"{self.name}: values walked out of statement order for {key!r}")
        params = []
        for name in compiled.positiontup or ():
            if name.startswith(PREFIX):
                params.append((int(name[len(PREFIX) :]), None))
            else:  # a constant SQLAlchemy bound itself (CASE's 0 and 1)
                params.append((-1, compiled.binds[name].value))
        as_json = tuple(n for n, (i, _) in enumerate(params) if i in binds.as_json)
        found = Compiled(compiled.string, tuple(params), as_json)
        if self._seen.again(key):  # shapes are few; a flood of odd ones is not kept
            self._compiled[key] = found
            if len(self._compiled) > COMPILED_KEPT:
                self._compiled.popitem(last=False)
        return found

    def pool(self) -> Pool:
        if self._pool is None:
            # connects on first use. A custom plan for every execution: after five, a prepared
            # statement's plan turns generic, blind to its values, and `is_alive = $1 ... ORDER
            # BY nik LIMIT $2` then walks the whole key index (46 ms, not 11: bench/across.py);
            # a source's values vary too much (a handful of rows or most of them) for one plan.
            settings = {"plan_cache_mode": "force_custom_plan"}
            self._pool = Pool(self.dsn, self.pool_size, self.idle_timeout, settings)
        return self._pool

    async def rows(self, key: Hashable, build: Build, values: Sequence[Any]) -> list[Row]:
        import asyncpg

        compiled = self.compile(key, build, values)
        try:
            pool = self.pool()
            for listener in self.listeners:
                listener(compiled.sql)
            return await pool.fetch(compiled.sql, *compiled.bind(values))
        except (
            asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError,
            orjson.JSONEncodeError,  # a list that JSON cannot carry (a lone surrogate, a huge int)
        ) as e:  # fmt: skip
            value = isinstance(e, asyncpg.DataError | orjson.JSONEncodeError)  # values it cannot send
            refused = value
            if isinstance(e, asyncpg.PostgresError):
                value, refused = pg_value_refused(e.sqlstate), pg_rejected(e.sqlstate)
            error = ValueRejected if value else QueryRejected if refused else SourceError
            raise error(f"{self.name}: {reason(e, compiled.sql)}") from e

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with asyncio.timeout(5):
                await pool.close()
        except TimeoutError:
            pool.terminate()


# SQLSTATE classes about the statement: data exceptions (22), syntax and access rules
# (42), program limits (54), unsupported features (0A). A table, column or privilege
# that is missing is the source's trouble: it no longer fits the catalog.
_PG_REJECTS = ("22", "42", "54", "0A")
_PG_MISSING = frozenset({"42P01", "42703", "42501", "3F000"})


def pg_value_refused(sqlstate: str | None) -> bool:
    """Did PostgreSQL refuse a value the statement carried (class 22, data exceptions: a
    NUL character, a number out of range)?"""
    return sqlstate is not None and sqlstate.startswith("22")


def pg_rejected(sqlstate: str | None) -> bool:
    """Did PostgreSQL refuse the statement itself (the hub's fault)?"""
    return sqlstate is not None and sqlstate[:2] in _PG_REJECTS and sqlstate not in _PG_MISSING


def reason(e: BaseException, sql: str) -> str:
    """Why a call failed, for the log: server errors by class and SQLSTATE only (their
    messages quote offending values), connection errors with their message."""
    import asyncpg

    if isinstance(e, asyncpg.PostgresError):
        return f"{type(e).__name__} (code {e.sqlstate}) in: {statement_for_log(sql)}"
    if isinstance(e, asyncpg.DataError):  # "invalid input for query argument $1: <the value> (…)"
        return f"{type(e).__name__}: a value the driver could not encode, in: {statement_for_log(sql)}"
    if isinstance(e, orjson.JSONEncodeError):
        return f"{type(e).__name__}: a list JSON cannot carry, in: {statement_for_log(sql)}"
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def statement_for_log(sql: str | None, limit: int = 400) -> str:
    """A statement short enough for a log line: an `in` of many values is as many
    placeholders (SQLite, MariaDB), hundreds of kilobytes of them."""
    if sql is None or len(sql) <= limit:
        return str(sql)
    return f"{sql[:limit]}… ({len(sql)} characters)"
