"""Daily match quotas: how many records one subject has had compared today (UTC).

Match records and the rows a key-anchored filter names both count (a `nik: {in}` with
`totalCount` tests as many NIKs as a match of that many records). A request that would
take a subject past its quota (the client's own, `hub clients create --match-quota`,
else HUB_MATCH_QUOTA) is refused whole with HTTP 429 and `Retry-After`; the records it
asked for are not counted. Kept in the hub store (`SqlQuotaBook`), or in Redis when
HUB_REDIS_URL is set (hub/store/in_redis.py).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.errors import StoreUnavailable
from hub.store.db import MatchQuota
from hub.store.upsert import add

_QUOTA: sa.Table = MatchQuota.__table__  # type: ignore[assignment]


def day_of(now: float) -> tuple[str, int]:
    """The UTC day of `now` (YYYY-MM-DD) and the whole seconds until the next one."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    tomorrow = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return moment.date().isoformat(), max(1, int((tomorrow - moment).total_seconds() + 0.999))


class QuotaBook(Protocol):
    async def charge(self, subject: str, records: int, most: int, now: float | None = None) -> int | None:
        """Count `records` for `subject` today if that stays within `most`: None; else
        count nothing and return the seconds until the quota renews."""
        ...

    async def aclose(self) -> None: ...


class SqlQuotaBook:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def charge(self, subject: str, records: int, most: int, now: float | None = None) -> int | None:
        day, renews = day_of(time.time() if now is None else now)
        try:
            async with self.engine.begin() as conn:
                await add(conn, _QUOTA, {"subject": subject, "day": day}, "records", records)  # locks the row
                mine = (_QUOTA.c.subject == subject) & (_QUOTA.c.day == day)
                total = (await conn.execute(sa.select(_QUOTA.c.records).where(mine))).scalar_one()
                if total > most:
                    await conn.rollback()
                    return renews
        except SQLAlchemyError as e:
            raise StoreUnavailable(type(e).__name__) from None
        return None

    async def aclose(self) -> None:
        return None
