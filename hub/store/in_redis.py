"""The guess budgets and daily quotas in Redis (`HUB_REDIS_URL`), shared by every process
using the same Redis.

Budgets: one sorted set per (subject, dataset, key, field), its members the digests of
the values compared, scored by when; one Lua script decides a whole spend atomically,
and the sets expire with their window. Quotas: one counter per subject and day,
raised only when the request stays within the quota."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from hub.errors import StoreUnavailable
from hub.store.guesses import Guess
from hub.store.quotas import day_of

# KEYS: one set per (key, field). ARGV: now, cutoff, most, ttl, then per guess the index
# of its set in KEYS (1-based) and its value's digest. Returns 1 (may compare) or 0.
SPEND = """
local now, cutoff, most, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. cutoff) end
local out = {}
for j = 1, (#ARGV - 4) / 2 do
  local set, value = KEYS[tonumber(ARGV[3 + 2 * j])], ARGV[4 + 2 * j]
  if redis.call('ZSCORE', set, value) then
    out[j] = 1
  elseif redis.call('ZCARD', set) < most then
    redis.call('ZADD', set, now, value)
    redis.call('EXPIRE', set, ttl)
    out[j] = 1
  else
    out[j] = 0
  end
end
return out
"""


class RedisGuessBook:
    def __init__(self, url: str) -> None:
        self.client = redis.from_url(url)
        self.script = self.client.register_script(SPEND)

    async def spend(
        self, subject: str, dataset: str, guesses: Sequence[Guess], most: int, window: float,
        now: float | None = None,
    ) -> list[bool]:  # fmt: skip
        if not guesses:
            return []
        now = time.time() if now is None else now
        sets: dict[tuple[str, str], int] = {}
        args: list[str | int | float] = [now, now - window, most, max(1, int(window) + 1)]
        for g in guesses:
            index = sets.setdefault((g.key, g.field), len(sets) + 1)
            args += [index, g.value]
        # the braces make every set of one (subject, dataset) one Redis Cluster slot
        keys = [f"hub:guess:{{{subject}|{dataset}}}:{key}:{field}" for key, field in sets]
        try:
            verdicts = await self.script(keys=keys, args=args)
        except RedisError as e:
            raise StoreUnavailable(type(e).__name__) from None
        return [v == 1 for v in verdicts]

    async def aclose(self) -> None:
        await self.client.aclose()


# KEYS: the subject's counter for today. ARGV: records, most, ttl. Returns 1 if counted.
CHARGE = """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return 0
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class RedisQuotaBook:
    def __init__(self, url: str) -> None:
        self.client = redis.from_url(url)
        self.script = self.client.register_script(CHARGE)

    async def charge(self, subject: str, records: int, most: int, now: float | None = None) -> int | None:
        day, renews = day_of(time.time() if now is None else now)
        try:
            counted = await self.script(
                keys=[f"hub:quota:{subject}:{day}"], args=[records, most, renews + 3600]
            )
        except RedisError as e:
            raise StoreUnavailable(type(e).__name__) from None
        return None if counted == 1 else renews

    async def aclose(self) -> None:
        await self.client.aclose()
