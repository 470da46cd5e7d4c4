"""Add to a counter row, creating it if missing, in one statement per dialect.

One upsert takes the row's lock (PostgreSQL, MariaDB) or the database's write lock
(SQLite) until commit, so that callers counting on the same row go one after another.
(An insert-if-missing followed by an update deadlocks on MariaDB under concurrency: the
ignored insert takes a shared lock first.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def add(
    conn: AsyncConnection, table: sa.Table, keys: Mapping[str, Any], column: str, amount: int
) -> None:
    """`table.column += amount` on the row with primary key `keys` (`amount` if new)."""
    row = {**keys, column: amount}
    more = {column: table.c[column] + amount}
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = (sqlite if name == "sqlite" else postgresql).insert(table).values(row)
        await conn.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=more))
    else:  # MariaDB / MySQL
        from sqlalchemy.dialects import mysql

        await conn.execute(mysql.insert(table).values(row).on_duplicate_key_update(more))
