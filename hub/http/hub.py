"""The hub: everything loaded at start-up (catalog, policy, sources, schemas, store,
audit log, guess books and quotas), and its close. hub/http/app.py serves requests
with it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.log import AuditLog
from hub.audit.sink import AuditSink
from hub.catalog import Catalog, load_catalog
from hub.cursor import Cursors
from hub.filter_size import FilterLimits
from hub.gql.dataset_types import Access
from hub.gql.schema import build_schema
from hub.gql.service import GraphQLService
from hub.http.ratelimit import RateLimits
from hub.metrics import Metrics
from hub.policy.decisions import ACTIONS, Policy
from hub.settings import Settings
from hub.sources import Sources
from hub.store.db import migrate_async, store_engine
from hub.store.guesses import UNKEYED, Digests, GuessBook, SqlGuessBook
from hub.store.keycheck import KeyStore
from hub.store.quotas import QuotaBook, SqlQuotaBook
from hub.store.secrets import kept_secret

log = logging.getLogger("hub.app")
PUBLIC = "public"


@dataclass
class Hub:
    """Everything loaded at start-up: catalog, sources, schema."""

    settings: Settings
    catalog: Catalog
    sources: Sources
    graphql: GraphQLService
    cursors: Cursors
    policy: Policy
    store: AsyncEngine
    metrics: Metrics
    audit: AuditLog
    audit_key: bytes
    disclosure_key: str  # the secret of aggregates' record keys (hub/disclosure)
    _public: tuple[int, GraphQLService] | None = None
    # what other modules derive from the catalog and policy, by name: (policy version, value)
    derived: dict[str, tuple[int, object]] = field(default_factory=dict)
    keys: KeyStore = field(init=False)
    filter_limits: FilterLimits = field(init=False)
    guesses: GuessBook = field(init=False)
    digests: Digests = field(init=False)
    quotas: QuotaBook = field(init=False)
    rate_limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyStore(self.store)
        self.filter_limits = self.settings.filter_limits()
        self.guesses, self.quotas = books(self.settings.redis_url, self.store)
        s = self.settings
        self.rate_limits = RateLimits(s.rate_limit_public, s.rate_limit_key, s.redis_url)
        self.digests = Digests(self.settings.audit_key.encode() or UNKEYED)

    def public_graphql(self) -> GraphQLService:
        """The public schema for the policy in force (rebuilt when the policy changes)."""
        version = self.policy.current_version()
        if self._public is None or self._public[0] != version:
            audience = public_audience(self.catalog, self.policy)
            schema = build_schema(self.catalog, self.settings.default_first, audience)
            self._public = (version, GraphQLService(schema, self.settings))
            self.metrics.watch("public", self._public[1].caches())
        return self._public[1]

    @classmethod
    async def start(
        cls, settings: Settings, catalog: Catalog | None = None, policy: Policy | None = None,
        sources: Sources | None = None, audit_sink: AuditSink | None = None,
    ) -> Hub:  # fmt: skip
        """Load catalog and policy (failing on any problem; or take them already loaded),
        migrate the store, open sources (or take them built from the same catalog).
        Audit entries go to `audit_sink`, by default the store's own appender."""
        catalog = catalog or load_catalog(settings.schema_dir)
        policy = policy or Policy(settings.policies_dir, catalog)
        schema = build_schema(catalog, settings.default_first)
        await migrate_async(settings.database_url)
        metrics = sources.metrics if sources else Metrics()
        store = store_engine(settings.database_url)
        if not settings.audit_key:
            log.warning(
                "HUB_AUDIT_KEY is not set: audit query hashes use a random key and cannot be "
                "recomputed, and match guess digests use a fixed key"
            )
        audit_key = settings.audit_key.encode() or os.urandom(32)
        disclosure_key = settings.disclosure_key or await kept_secret(store, "disclosure_key")
        hub = cls(
            settings, catalog, sources or Sources(catalog, metrics), GraphQLService(schema, settings),
            Cursors(settings.cursor_secret), policy, store, metrics, AuditLog(store, audit_sink), audit_key,
            disclosure_key,
        )  # fmt: skip
        metrics.watch("main", hub.graphql.caches())
        hub.public_graphql()  # built now, so the first anonymous caller does not wait for it
        return hub

    async def close(self) -> None:
        await self.audit.close()
        await self.guesses.aclose()
        await self.quotas.aclose()
        await self.rate_limits.aclose()
        await self.keys.close()
        await self.sources.close()
        await self.store.dispose()


def books(redis_url: str, store: AsyncEngine) -> tuple[GuessBook, QuotaBook]:
    """Where guess budgets and quotas are kept: Redis when `HUB_REDIS_URL` is set
    (imported only then), else the hub store."""
    if not redis_url:
        return SqlGuessBook(store), SqlQuotaBook(store)
    from hub.store.in_redis import RedisGuessBook, RedisQuotaBook

    return RedisGuessBook(redis_url), RedisQuotaBook(redis_url)


def public_audience(catalog: Catalog, policy: Policy) -> dict[str, Access]:
    """What `public` may read, match and aggregate, field by field."""
    out = {}
    for ds in catalog.datasets.values():
        may = {
            a: frozenset(f for f in ds.fields if policy.allows(PUBLIC, f"{ds.qualified}.{f}", a))
            for a in ACTIONS
        }
        out[ds.qualified] = Access(may["read"], may["match"], may["aggregate"])
    return out
