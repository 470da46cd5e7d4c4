"""The audit appender for a store that is neither a SQLite file nor PostgreSQL through
asyncpg (MariaDB, …): batches of up to `BATCH` entries, each in one SQLAlchemy
transaction that locks the chain's head row first."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.batch import Batch, Outcome, settle
from hub.audit.chain import COLUMNS, Entry, Link, accesses, link, row_values
from hub.store.db import AuditAccess, AuditHead, AuditRecord

_LOG: sa.Table = AuditRecord.__table__  # type: ignore[assignment]
_ACCESS: sa.Table = AuditAccess.__table__  # type: ignore[assignment]
_HEAD: sa.Table = AuditHead.__table__  # type: ignore[assignment]
_LOCK_HEAD = (
    sa.update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.hash)
)
BATCH = 256


class SqlAlchemyAppender:
    """Appends entries with group commit through SQLAlchemy, from a task of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._queue: asyncio.Queue[tuple[Entry, asyncio.Future[int]]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def append(self, entry: Entry) -> int:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run(), name="audit-writer")
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put((entry, done))
        return await done

    async def _run(self) -> None:
        while True:
            batch: Batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            outcome: Outcome
            try:
                outcome = await self._append([e for e, _ in batch])
            except Exception as e:
                outcome = e
            settle(batch, outcome)

    async def _append(self, entries: list[Entry]) -> list[int]:
        async with self.engine.begin() as conn:
            # Lock the head's row and read it in one statement (an UPDATE locks on every
            # backend, SQLite's whole database included): writers append one after another.
            head = (await conn.execute(_LOCK_HEAD)).one()
            links = link(int(head.seq), str(head.hash), entries)
            await conn.execute(sa.insert(_LOG), [_row(k) for k in links])
            access = [{"seq": seq, "dataset": d, "opd": opd} for seq, d, opd in accesses(links)]
            if access:
                await conn.execute(sa.insert(_ACCESS), access)
            last = links[-1]
            await conn.execute(sa.update(_HEAD).where(_HEAD.c.id == 1).values(seq=last.seq, hash=last.hash))
        return [k.seq for k in links]

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


def _row(k: Link) -> dict[str, Any]:
    return dict(zip(COLUMNS, row_values(k), strict=True))
