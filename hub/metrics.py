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
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

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
            "hub_source_breaker_open", "1 while a source's breaker is open", ["source"], registry=r
        )

        self.document_caches = DocumentCaches()
        r.register(self.document_caches)

        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept: prometheus_client's lookup (a lock, the label
        checks) cost ~1% of a 100-row answer's CPU, made four times per request."""
        key = (id(metric), labels)  # every metric lives as long as this object
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)


class BoundedCache(Protocol):
    held: int  # characters of query text
    evicted: int

    def __len__(self) -> int: ...


class Cached(Protocol):
    def caches(self) -> Mapping[str, BoundedCache]: ...


class DocumentCaches:
    """Reads the GraphQL services' caches when scraped. A service replaced (the public
    schema, rebuilt when the policy changes) starts its counts again."""

    def __init__(self) -> None:
        self.services: dict[str, Cached] = {}  # schema name -> its service

    def collect(self) -> Iterator[Metric]:
        labels = ["schema", "cache"]
        entries = GaugeMetricFamily("hub_document_cache_entries", "Parsed documents kept", labels=labels)
        chars = GaugeMetricFamily("hub_document_cache_chars", "Query text of kept documents", labels=labels)
        evictions = CounterMetricFamily(
            "hub_document_cache_evictions", "Documents dropped to stay within the bounds", labels=labels
        )
        for schema, service in self.services.items():
            for cache, kept in service.caches().items():
                entries.add_metric([schema, cache], len(kept))
                chars.add_metric([schema, cache], kept.held)
                evictions.add_metric([schema, cache], kept.evicted)
        yield from (entries, chars, evictions)


__all__ = ["CONTENT_TYPE", "Metrics"]
