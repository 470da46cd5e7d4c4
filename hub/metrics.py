"""Prometheus metrics, one registry per hub (so several hubs can live in one process).

hub_requests_total{route,status}           HTTP requests answered
hub_request_seconds{route}                 their latency
hub_source_requests_total{source,outcome}  calls to sources: ok, error, timeout, open,
                                           too_many_rows, rejected (the source refused
                                           the statement: the hub's error)
hub_source_seconds{source}                 latency of calls that reached the source
hub_source_breaker_open{source}            1 while the source's circuit breaker is open
hub_document_cache_entries{schema,cache}   parsed documents (and their fast-path layouts)
hub_document_cache_chars{schema,cache}     kept, and the query text they hold, per schema
hub_document_cache_evictions_total{...}    (main, public); evictions > 0: the cache is full

Under `hub serve --workers N` every worker writes its values to files in one directory
(prometheus_client's multiprocess mode, `PROMETHEUS_MULTIPROC_DIR`, set by the parent),
and whichever worker answers `/metrics` reports them all: counts and latencies summed
over the workers, a worker that died included; cache sizes summed over the living ones;
a breaker open in any living worker is 1. Dead workers' files are folded into one set at
the scrape (hub/metrics_files.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values

from hub.metrics_files import read_all

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("hub_requests", "HTTP requests answered", ["route", "status"], registry=r)
        self.request_seconds = Histogram(
            "hub_request_seconds", "HTTP latency", ["route"], buckets=BUCKETS, registry=r
        )
        self.source_requests = Counter(
            "hub_source_requests", "Calls to sources by outcome", ["source", "outcome"], registry=r
        )
        self.source_seconds = Histogram(
            "hub_source_seconds",
            "Latency of calls that reached a source",
            ["source"],
            buckets=BUCKETS,
            registry=r,
        )
        self.match_limited = Counter(
            "hub_match_limited",
            "Comparisons withheld or refused because the subject spent a guess budget",
            ["subject"],
            registry=r,
        )
        self.rate_limited = Counter(
            "hub_rate_limited",
            "Requests refused with 429 by the rate limits, by budget (address, key; refused: unknown keys)",
            ["limit"],
            registry=r,
        )
        self.breaker_open = Gauge(
            "hub_source_breaker_open", "1 while a source's breaker is open", ["source"], registry=r,
            multiprocess_mode="livemax",
        )  # fmt: skip
        cached = ["schema", "cache"]
        self.cache_entries = Gauge(
            "hub_document_cache_entries", "Parsed documents kept", cached, registry=r,
            multiprocess_mode="livesum",  # summed over the living workers
        )  # fmt: skip
        self.cache_chars = Gauge(
            "hub_document_cache_chars", "Query text of kept documents", cached, registry=r,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.cache_evictions = Counter(
            "hub_document_cache_evictions", "Documents dropped to stay within the bounds", cached, registry=r
        )
        self.shared = shared_directory()
        self._watched: dict[str, list[BoundedCache]] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept: prometheus_client's lookup (a lock, the label
        checks) cost ~1% of a 100-row answer's CPU, made four times per request."""
        key = (id(metric), labels)  # every metric lives as long as this object
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def watch(self, schema: str, caches: Mapping[str, BoundedCache]) -> None:
        """Report a GraphQL service's bounded caches (`GraphQLService.caches()`) as
        `schema`'s from now on: each change sets the sizes and counts the evictions. A
        service replaced (the public schema, rebuilt when the policy changes) is no longer
        reported; its successor's sizes are."""
        for old in self._watched.get(schema, []):
            old.unwatch()
        self._watched[schema] = list(caches.values())
        for name, cache in caches.items():
            cache.report = self._reporter(cache, schema, name)
            cache.report(0)

    def _reporter(self, cache: BoundedCache, *labels: str) -> Callable[[int], None]:
        entries, chars = self.child(self.cache_entries, *labels), self.child(self.cache_chars, *labels)
        evictions = self.child(self.cache_evictions, *labels)

        def report(dropped: int) -> None:
            entries.set(len(cache))
            chars.set(cache.held)
            evictions.inc(dropped)

        return report

    def render(self) -> bytes:
        if self.shared is None:
            return generate_latest(self.registry)
        return read_all(self.shared)


class BoundedCache(Protocol):
    held: int  # characters of query text
    report: Callable[[int], None]  # called with the entries just dropped, after each change

    def unwatch(self) -> None: ...  # report nothing from now on

    def __len__(self) -> int: ...


def shared_directory() -> str | None:
    """The workers' directory when this process counts in multiprocess mode (decided by
    prometheus_client when it was imported); None when it counts in memory."""
    if getattr(values.ValueClass, "_multiprocess", False):
        return os.environ["PROMETHEUS_MULTIPROC_DIR"]
    return None


__all__ = ["CONTENT_TYPE", "Metrics"]
