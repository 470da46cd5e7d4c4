"""The SQL statements a hub's source receives, as its adapter sends them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


@contextmanager
def statements(hub: Any, dataset: str) -> Iterator[list[str]]:
    """The text of each statement the SQL source of `dataset` receives while inside."""
    adapter: Any = hub.sources.of_dataset[dataset].adapter
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    if adapter.pg is not None:  # PostgreSQL runs on asyncpg directly (adapters/sql_pg.py)
        adapter.pg.listeners.append(seen.append)
        try:
            yield seen
        finally:
            adapter.pg.listeners.remove(seen.append)
    else:
        sa.event.listen(adapter.engine.sync_engine, "before_cursor_execute", before)
        try:
            yield seen
        finally:
            sa.event.remove(adapter.engine.sync_engine, "before_cursor_execute", before)
