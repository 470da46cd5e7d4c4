"""Guess budgets: how many distinct values one caller has compared per key and field.

A caller who may only `match` a field learns, per comparison, whether one value agrees
with the record named by a key. Unbounded, that is a search: enough guesses for one NIK
and the name comes out. So for each (subject, dataset, key value, field) at most
`match_guesses` distinct values may be compared within `match_window_hours` (catalog,
per dataset); comparing a value already compared in the window costs nothing.

The book keeps keyed digests only (`Digests`), never a key or a value, in the hub store
(`SqlGuessBook`, the default: every process sharing the store shares the budget, and it
survives restarts) or in Redis when `HUB_REDIS_URL` is set (hub/store/in_redis.py;
`hub.http.app.Hub` picks one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.errors import StoreUnavailable
from hub.store.db import MatchGuess, MatchSubject
from hub.store.upsert import add

UNKEYED = b"opd-hub match guesses: HUB_AUDIT_KEY unset"  # the same in every process
_GUESS: sa.Table = MatchGuess.__table__  # type: ignore[assignment]
_SUBJECT: sa.Table = MatchSubject.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Guess:
    """One comparison: the digests of the key value and of the value compared."""

    key: str
    field: str
    value: str


class Digests:
    """Keyed digests (BLAKE2b, 128 bits) of keys and values: equal inputs give equal
    digests in every process that has the same secret, and nobody without it can test
    a guess against the book."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.blake2b(secret, digest_size=32, person=b"hub-guesses").digest()

    def of(self, *parts: str) -> str:
        data = "\x1f".join(parts).encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, digest_size=16, key=self._key).hexdigest()


def canonical(value: Any) -> str:
    """The text a compared value is digested as, the same whether it came in a match
    record or a filter (already normalised by the field's `normalize` steps)."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class GuessBook(Protocol):
    async def spend(
        self, subject: str, dataset: str, guesses: Sequence[Guess], most: int, window: float,
        now: float | None = None,
    ) -> list[bool]:  # fmt: skip
        """Per guess, in order: True if it may be compared (already in the window, or
        within the budget, and now counted), False if its key and field are spent."""
        ...

    async def aclose(self) -> None: ...


def settle(
    guesses: Sequence[Guess], held: dict[tuple[str, str], set[str]], most: int
) -> tuple[list[bool], list[Guess]]:
    """Decide each guess against what the window `held` per (key, field); the verdicts
    and the guesses newly counted. `held` is updated."""
    verdicts, new = [], []
    for g in guesses:
        values = held.setdefault((g.key, g.field), set())
        if g.value in values:
            verdicts.append(True)
        elif len(values) < most:
            values.add(g.value)
            new.append(g)
            verdicts.append(True)
        else:
            verdicts.append(False)
    return verdicts, new


class SqlGuessBook:
    """The budget in the hub store. A spend locks the (subject, dataset) row first, so
    spends of one caller on one dataset run one after another in every process. A spend
    forgets the guesses of its own keys that left the window; every `purge_every`-th
    spend of a (subject, dataset) forgets all of them, so that keys never asked again do
    not stay in the store for ever."""

    def __init__(self, engine: AsyncEngine, purge_every: int = 256) -> None:
        self.engine = engine
        self.purge_every = purge_every

    async def spend(
        self, subject: str, dataset: str, guesses: Sequence[Guess], most: int, window: float,
        now: float | None = None,
    ) -> list[bool]:  # fmt: skip
        if not guesses:
            return []
        now = time.time() if now is None else now
        try:
            return await self._spend(subject, dataset, guesses, most, window, now)
        except SQLAlchemyError as e:
            raise StoreUnavailable(type(e).__name__) from None

    async def _spend(
        self, subject: str, dataset: str, guesses: Sequence[Guess], most: int, window: float, now: float
    ) -> list[bool]:
        keys = sorted({g.key for g in guesses})
        mine = (_GUESS.c.subject == subject) & (_GUESS.c.dataset == dataset) & _GUESS.c.key_digest.in_(keys)
        async with self.engine.begin() as conn:
            # the (subject, dataset) row's lock: one caller's spends on one dataset go in turn
            await add(conn, _SUBJECT, {"subject": subject, "dataset": dataset}, "spends", 1)
            which = (_SUBJECT.c.subject == subject) & (_SUBJECT.c.dataset == dataset)
            spends = (await conn.execute(sa.select(_SUBJECT.c.spends).where(which))).scalar_one()
            stale = _GUESS.c.at < now - window
            if spends % self.purge_every == 0:
                theirs = (_GUESS.c.subject == subject) & (_GUESS.c.dataset == dataset)
                await conn.execute(sa.delete(_GUESS).where(theirs & stale))
            else:
                await conn.execute(sa.delete(_GUESS).where(mine & stale))
            rows = await conn.execute(
                sa.select(_GUESS.c.key_digest, _GUESS.c.field, _GUESS.c.value_digest).where(mine)
            )
            held: dict[tuple[str, str], set[str]] = {}
            for key, field, value in rows:
                held.setdefault((key, field), set()).add(value)
            verdicts, new = settle(guesses, held, most)
            if new:
                await conn.execute(
                    sa.insert(_GUESS),
                    [
                        {"subject": subject, "dataset": dataset, "key_digest": g.key, "field": g.field,
                         "value_digest": g.value, "at": now}
                        for g in new
                    ],
                )  # fmt: skip
        return verdicts

    async def aclose(self) -> None:
        return None
