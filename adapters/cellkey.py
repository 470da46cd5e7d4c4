"""Cell keys computed where an aggregate runs (hub/disclosure says what they are for).

A record's key is the CRC-32 of the hex SHA-1 of the query's `CellKey.prefix` (secret
and dataset, from the hub) followed by the record's key value as text, or on PostgreSQL
the low 32 bits of `hashtextextended(key as text, seed)` with a 64-bit seed drawn from
the prefix (PostgreSQL has no SHA-1 without an extension, and its MD5 is too slow); a
cell's key is the sum of its records' keys modulo 2^32. SHA-1 under a secret prefix
keeps the key unpredictable (collisions do not matter here: no one sees a record key);
the CRC-32 only folds its 40 hex digits into 32 bits, which costs MariaDB less than
cutting and converting them. Each dataset lives in one source, so each is consistent in
itself. `RecordKey` writes that into a SQL statement per dialect (PostgreSQL
`hashtextextended`, MariaDB/MySQL `CRC32(SHA1(...))`, SQLite the function
`hub_record_key`, which `register` adds to each connection, given the prefix and the key
as text); `record_key` is the same in Python, for the sources the hub aggregates itself
and for tests. The prefix is always a bound parameter: SQL text goes to logs, the secret
must not.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from adapters.lookup3 import hash_extended

MODULUS = 2**32


def record_key(prefix: str, key: Any, dialect: str = "") -> int:
    """The record key a source of `dialect` computes (PostgreSQL: seeded lookup3; every
    other source: CRC-32 of the hex SHA-1)."""
    if dialect == "postgresql":
        return hash_extended(str(key).encode(), pg_seed(prefix)) & 0xFFFFFFFF
    digest = hashlib.sha1(f"{prefix}{key}".encode(), usedforsecurity=False).hexdigest()
    return zlib.crc32(digest.encode())


def pg_seed(prefix: str) -> int:
    """The 64-bit seed PostgreSQL hashes keys with: MD5 of the prefix, first 16 hex digits,
    as a signed bigint (computed once per statement there, see `_pg`)."""
    v = int(hashlib.md5(prefix.encode(), usedforsecurity=False).hexdigest()[:16], 16)
    return v - (1 << 64) if v >> 63 else v


SEPARATOR = "\x1f"  # between the keys SQLite lists per group (adapters/sql.py)
_SEEN: dict[str, dict[str, int]] = {}  # prefix -> key as text -> record key
_SEEN_MOST = 1 << 19  # keys kept over all prefixes (~80 MB at most); all dropped past it
_seen_count = 0


def listed_cell_key(prefix: str, listed: str | None, count: int) -> int | None:
    """The cell key of a group whose keys SQLite listed, joined by SEPARATOR; None when
    they are not `count` keys (a NULL key, or one holding the separator): then the
    caller asks SQLite for the cell key itself."""
    global _seen_count
    keys = listed.split(SEPARATOR) if listed is not None else []
    if len(keys) != count:
        return None
    seen = _SEEN.setdefault(prefix, {})
    try:
        total = sum(map(seen.__getitem__, keys))
    except KeyError:
        if _seen_count > _SEEN_MOST:
            _SEEN.clear()
            _seen_count = 0
            seen = _SEEN.setdefault(prefix, {})
        for k in keys:
            if k not in seen:
                seen[k] = record_key(prefix, k)
                _seen_count += 1
        total = sum(map(seen.__getitem__, keys))
    return total % MODULUS


def cell_key(record_keys: Iterable[int]) -> int:
    """The cell's key as a whole number in [0, 2^32); over 2^32 it is in [0, 1)."""
    return sum(record_keys) % MODULUS


@functools.lru_cache(maxsize=1 << 18)
def _sqlite_record_key(prefix: str, key: str | None) -> int | None:
    """SQLite calls back into Python for every row; the hash of a key already seen is a
    cache lookup (a quarter million keys, ~40 MB at most), which halves what a perturbed
    aggregate adds to a plain one."""
    if key is None:
        return None
    return record_key(prefix, key)


def register(dbapi_connection: Any, _record: Any = None) -> None:
    """SQLAlchemy `connect` listener for SQLite engines: adds `hub_record_key(prefix, key)`."""
    dbapi_connection.create_function("hub_record_key", 2, _sqlite_record_key, deterministic=True)


class RecordKey(ColumnElement[int]):
    """The record key of each row (see the module's docstring)."""

    inherit_cache = True  # with _traverse_internals: SQLAlchemy compiles it once, not per call
    type = sa.BigInteger()
    _traverse_internals = [
        ("prefix", InternalTraversal.dp_clauseelement),
        ("record", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, prefix: ColumnElement[Any], key: ColumnElement[Any]) -> None:
        self.prefix = prefix
        self.record = key


@compiles(RecordKey, "postgresql")
def _pg(element: RecordKey, compiler: SQLCompiler, **kw: Any) -> str:
    """`hashtextextended` (the hash of hash partitioning, stable across versions) seeded
    by 64 bits of the prefix's MD5, which the sub-select computes once per statement:
    MD5 per row made a perturbed aggregate 2.2-3.9x a plain one, this ~1x."""
    prefix, key = compiler.process(element.prefix, **kw), compiler.process(element.record, **kw)
    seed = f"(SELECT ('x' || substr(md5({prefix}), 1, 16))::bit(64)::bigint)"
    return f"(hashtextextended(CAST({key} AS TEXT), {seed}) & 4294967295)"


@compiles(RecordKey, "mysql")
@compiles(RecordKey, "mariadb")
def _mysql(element: RecordKey, compiler: SQLCompiler, **kw: Any) -> str:
    text = f"CONCAT({compiler.process(element.prefix, **kw)}, {compiler.process(element.record, **kw)})"
    return f"CRC32(SHA1({text}))"


@compiles(RecordKey, "sqlite")
def _sqlite(element: RecordKey, compiler: SQLCompiler, **kw: Any) -> str:
    prefix, key = compiler.process(element.prefix, **kw), compiler.process(element.record, **kw)
    return f"hub_record_key({prefix}, CAST({key} AS TEXT))"


class ListedKeys(ColumnElement[str]):
    """Each group's keys as text joined by SEPARATOR (no secret in the statement)."""

    inherit_cache = True
    type = sa.Text()
    _traverse_internals = [("record", InternalTraversal.dp_clauseelement)]

    def __init__(self, key: ColumnElement[Any]) -> None:
        self.record = key


@compiles(ListedKeys, "sqlite")
def _sqlite_listed(element: ListedKeys, compiler: SQLCompiler, **kw: Any) -> str:
    # a literal separator: char(31) was a function call per row, half of what listing cost
    return f"group_concat(CAST({compiler.process(element.record, **kw)} AS TEXT), '{SEPARATOR}')"


# where hashing in the hub pays: on MariaDB, GROUP_CONCAT of the keys cost twice MD5 in
# the statement (Q2 of bench/disclosure.py: 4.5x a suppressed aggregate, against 2.2x)
LISTING_DIALECTS = frozenset({"sqlite"})


def cell_key_column(prefix: ColumnElement[Any], key: ColumnElement[Any]) -> ColumnElement[Any]:
    """SUM of the record keys modulo 2^32: the cell key of each group, as a BIGINT (the
    SUM of BIGINTs is NUMERIC/DECIMAL, which drivers hand over as slower Decimals)."""
    return sa.cast(sa.func.sum(RecordKey(prefix, key)) % MODULUS, sa.BigInteger)
