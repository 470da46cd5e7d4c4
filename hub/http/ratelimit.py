"""Rate limits: per client address on the public routes, per API key on `/graphql`.

A pure-ASGI layer in front of the app (hub/http/app.py `create_app`), so it covers the
GraphQL fast path and every Starlette route alike. Budgets come from settings
(`HUB_RATE_LIMIT_PUBLIC`, `HUB_RATE_LIMIT_KEY`, in the `limits` library's notation) and
are counted with its fixed-window strategy: one increment per request and limit, in
process memory, or in Redis when `HUB_REDIS_URL` is set, so that every hub process on that
Redis spends one budget. Example, with `HUB_RATE_LIMIT_PUBLIC=5/minute`:

    for i in $(seq 6); do curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:8000/public/; done
    200 200 200 200 200 429

The 429 carries `Retry-After`, `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
and `{"errors":[{"message":…,"extensions":{"code":"RATE_LIMITED"}}]}`. A key the hub does
not know (401) costs its address's budget too, counted apart from the address's other
requests; once that is spent, keyed requests from the address are refused before their
key is looked at (else a new random key per request would escape every limit). Answers within the
budget carry `RateLimit-Limit` and `RateLimit-Remaining`. `/healthz`, `/readyz`, `/metrics`
and `/static/*` are never limited. The client's address is the connection's, or the one
a proxy on 127.0.0.1, ::1 or in `FORWARDED_ALLOW_IPS` put in `X-Forwarded-For` (uvicorn
sets it in the ASGI scope before this layer sees it; deploy/README.md). When Redis does
not answer, requests pass (one warning is logged per outage): a limiter must not take the
hub down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import RateLimited
from hub.http.graphql_http import error_response, new_request_id
from hub.metrics import Metrics

log = logging.getLogger("hub.ratelimit")

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
REDIS_PREFIX = "hub:ratelimit"


def parse_limits(value: str) -> list[RateLimitItem]:
    """`"600/minute"` or `"10/second;600/minute"` as the limits library reads them; "" none."""
    return parse_many(value) if value.strip() else []


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: float  # epoch seconds the tightest window renews; 0 when not looked up


class RateLimits:
    """The budgets and where they are counted: `hit(kind, who)` spends one request."""

    def __init__(self, public: str, key: str, redis_url: str = "", prefix: str = REDIS_PREFIX) -> None:
        # "refused": what keys the hub does not know cost their address (the public budget),
        # so that a new random key per request does not escape every limit
        self.items = {
            "address": parse_limits(public),
            "key": parse_limits(key),
            "refused": parse_limits(public),
        }
        self.storage: Storage = MemoryStorage()
        if redis_url:  # redis-py's asyncio client, which the hub already uses (not coredis)
            self.storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=prefix,
                wrap_exceptions=True,
                socket_connect_timeout=1,
                socket_timeout=1,
            )
        self.down = False  # Redis failed on the last request: warned once, until it answers

    def applies(self, kind: str) -> bool:
        """Whether requests of `kind` are counted at all (keyed ones also when only the
        address budget is set: unknown keys spend it)."""
        return bool(self.items[kind] or (kind == "key" and self.items["refused"]))

    async def hit(self, kind: str, who: str) -> Verdict | None:
        """Spend one request of `who`'s budgets; None when the storage does not answer."""
        tightest: Verdict | None = None
        try:
            for item in self.items[kind]:
                key = item.key_for(kind, who)
                used = await self.storage.incr(key, item.get_expiry())
                remaining = max(0, item.amount - used)
                if used > item.amount:
                    reset = await self.storage.get_expiry(key)
                    tightest = Verdict(False, item.amount, 0, reset)
                    break
                if tightest is None or remaining < tightest.remaining:
                    tightest = Verdict(True, item.amount, remaining, 0)
        except (StorageError, OSError) as e:
            if not self.down:
                self.down = True
                log.warning("rate limits not enforced: their storage does not answer (%s)", e)
            return None
        if self.down:
            self.down = False
            log.warning("rate limits enforced again: their storage answers")
        return tightest

    async def spent(self, kind: str, who: str) -> Verdict | None:
        """The first of `who`'s budgets that is spent, without spending any; None when
        none is (or the storage does not answer)."""
        try:
            for item in self.items[kind]:
                key = item.key_for(kind, who)
                if await self.storage.get(key) >= item.amount:
                    return Verdict(False, item.amount, 0, await self.storage.get_expiry(key))
        except (StorageError, OSError):
            return None  # hit() warns when the storage is down
        return None

    async def aclose(self) -> None:
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()


def address_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def client_of(scope: Scope) -> tuple[str, str] | None:
    """Whose budget a request spends: ("key", sha256 of its key) on /graphql with a bearer
    key, ("address", client address) elsewhere; None for the routes never limited."""
    path = scope["path"]
    if path in EXEMPT or path.startswith("/static/"):
        return None
    if path == "/graphql":
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, key = value.partition(b" ")
                if scheme.lower() == b"bearer" and key.strip():
                    return "key", hashlib.sha256(key.strip()).hexdigest()
    return "address", address_of(scope)


class Limited(Protocol):
    """What this layer needs of the hub (hub/http/hub.py imports this module)."""

    rate_limits: RateLimits
    metrics: Metrics


class RateLimit:
    """The ASGI layer: a request over its budget is answered 429 before the app sees it."""

    def __init__(self, app: ASGIApp, starlette: Starlette) -> None:
        self.app = app
        self.starlette = starlette  # its state holds the hub once started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        who = client_of(scope) if scope["type"] == "http" else None
        hub: Limited | None = getattr(self.starlette.state, "hub", None) if who is not None else None
        if who is None or hub is None or not hub.rate_limits.applies(who[0]):
            await self.app(scope, receive, send)
            return
        limits = hub.rate_limits
        keyed = who[0] == "key"
        refused = await limits.spent("refused", address_of(scope)) if keyed else None
        verdict = refused or await limits.hit(*who)
        if verdict is not None and not verdict.allowed:
            scope["app"] = self.starlette  # as the app would have set it (RequestMetrics reads it)
            await refuse(verdict, "refused" if refused else who[0], hub.metrics, scope, receive, send)
            return
        extra = [] if verdict is None else [
            (b"ratelimit-limit", str(verdict.limit).encode()),
            (b"ratelimit-remaining", str(verdict.remaining).encode()),
        ]  # fmt: skip
        status = 0

        async def send_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_headers)
        if keyed and status == 401:  # a key the hub does not know: its address pays
            await limits.hit("refused", address_of(scope))


async def refuse(
    verdict: Verdict, kind: str, metrics: Metrics, scope: Scope, receive: Receive, send: Send
) -> None:
    """The 429, in the API's error shape, with Retry-After and the RateLimit-* headers."""
    wait = max(1, math.ceil(verdict.reset - time.time()))
    whose = {"key": "this API key", "refused": "this address with unknown API keys"}.get(kind, "this address")
    error = RateLimited(f"too many requests from {whose}; try again in {wait} s", retry_after=wait)
    metrics.child(metrics.rate_limited, kind).inc()
    response = error_response(error, new_request_id())
    response.headers.update(
        {"Retry-After": str(wait), "RateLimit-Limit": str(verdict.limit), "RateLimit-Remaining": "0",
         "RateLimit-Reset": str(wait)}
    )  # fmt: skip
    await response(scope, receive, send)
