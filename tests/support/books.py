"""Guess books and quota books (hub/store/guesses.py, quotas.py, in_redis.py) on every
store they can live in, for tests that open several on one store, as several processes
or a restart would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.store.db import migrate_async, store_engine
from tests.support.databases import REDIS, ScratchDatabase, require_server

KINDS = ("sqlite", "postgresql", "mariadb", "redis")


class Closable(Protocol):
    async def aclose(self) -> None: ...


B = TypeVar("B", bound=Closable)


@asynccontextmanager
async def books_on(
    kind: str, tmp: Path, in_store: Callable[[AsyncEngine], B], in_redis: Callable[[str], B]
) -> AsyncIterator[Callable[[], B]]:
    """A factory of new books on one fresh store of `kind` (Redis: the machine's one;
    tests there use subjects of their own). Everything is closed and dropped after."""
    opened: list[Any] = []
    engines: list[AsyncEngine] = []
    db: ScratchDatabase | None = None
    if kind == "redis":
        require_server("redis")

        def make() -> B:
            opened.append(in_redis(REDIS[2]))
            return opened[-1]  # type: ignore[no-any-return]
    else:
        db = await ScratchDatabase(kind, tmp).create()
        await migrate_async(db.url)

        def make() -> B:
            engines.append(store_engine(db.url))
            opened.append(in_store(engines[-1]))
            return opened[-1]  # type: ignore[no-any-return]

    try:
        yield make
    finally:
        for book in opened:
            await book.aclose()
        for engine in engines:
            await engine.dispose()
        if db is not None:
            await db.drop()
