"""The live sources of a catalog: one adapter per (OPD, source), each with its timeout.

Every call to a source goes through `Sources.call`, which applies the source's
timeout and turns failures into coded errors while the reason goes to the log. Only
the source's own trouble (no connection, a timeout, an error of its own) counts
against its circuit breaker; a statement it refused is the hub's error (`INTERNAL`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import adapters
from adapters.base import Adapter, Binding, QueryRejected, SourceError, ValueRejected
from adapters.memory import RowBudgetExceeded
from hub.access import source_called
from hub.breaker import Breaker
from hub.catalog import Catalog, CatalogError, Dataset, Problem
from hub.errors import BadUserInput, Internal, QueryTooComplex, SourceTimeout, SourceUnavailable
from hub.metrics import Metrics

log = logging.getLogger("hub.sources")
T = TypeVar("T")


def binding(ds: Dataset) -> Binding:
    spec = ds.spec
    return Binding(
        name=ds.qualified,
        key=spec.key,
        types={f: fs.type for f, fs in spec.fields.items()},
        columns={f: (fs.column or fs.path or f) for f, fs in spec.fields.items()},
        table=spec.table or ds.name,
        options={
            "path": spec.path,
            "records": spec.records,
            "pagination": spec.pagination.model_dump() if spec.pagination else None,
            "params": dict(spec.params),
        },
    )


@dataclass
class Source:
    id: str  # `opd.source`
    adapter: Adapter
    timeout: float
    breaker: Breaker
    max_rows: int = 50_000  # rows the hub may fetch to answer what the source cannot (hub/semijoin.py)


def check_adapters(catalog: Catalog, kinds: Mapping[str, str] | None = None) -> list[Problem]:
    """Sources whose adapter kind this installation does not have."""
    kinds = adapters.available() if kinds is None else kinds
    return [
        Problem(catalog.paths[opd], f"sources.{name}.adapter",
                f"unknown adapter {spec.adapter!r} (available: {', '.join(sorted(kinds))})")
        for opd, name, spec in catalog.sources()
        if spec.adapter not in kinds
    ]  # fmt: skip


class Sources:
    def __init__(self, catalog: Catalog, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or Metrics()
        kinds = adapters.available()  # once: entry points are read from every installed package
        problems = check_adapters(catalog, kinds)
        if problems:
            raise CatalogError(problems)
        self.by_id: dict[str, Source] = {}
        self.of_dataset: dict[str, Source] = {}
        served: dict[tuple[str, str], list[Binding]] = {}  # one pass, not one per source
        for d in catalog.datasets.values():
            served.setdefault((d.opd, d.source_name), []).append(binding(d))
        for opd, name, spec in catalog.sources():
            bindings = served.get((opd, name), [])
            source_id = f"{opd}.{name}"
            try:
                adapter = adapters.create(spec.adapter, source_id, spec.model_dump(), bindings, kinds)
            except ValueError as e:  # an adapter's own check of its configuration
                raise CatalogError([Problem(catalog.paths[opd], f"sources.{name}", str(e))]) from None
            breaker = Breaker(spec.breaker_failures, spec.breaker_reset)
            self.by_id[source_id] = Source(source_id, adapter, spec.timeout, breaker, spec.max_rows)
            for b in bindings:
                self.of_dataset[b.name] = self.by_id[source_id]

    async def call(self, source: Source, work: Callable[[Adapter], Awaitable[T]]) -> T:
        """Run `work` on the source within its timeout and breaker; coded errors out."""
        if not source.breaker.allow():
            self._count(source, "open")
            raise SourceUnavailable(f"source {source.id} is unavailable", source=source.id)
        source_called()
        started = time.perf_counter()
        settled = False
        try:
            async with asyncio.timeout(source.timeout):
                result = await work(source.adapter)
            settled = True
            source.breaker.success()
            self._count(source, "ok")
            return result
        except TimeoutError:
            settled = True
            self._failed(source, "timeout", f"timed out after {source.timeout}s")
            raise SourceTimeout(f"source {source.id} did not answer in time", source=source.id) from None
        except RowBudgetExceeded:
            settled = True
            source.breaker.success()  # the source answered; the question was too big
            self._count(source, "too_many_rows")
            raise QueryTooComplex(
                f"answering needs more rows than source {source.id} may hand over; narrow the filter",
                source=source.id,
            ) from None
        except ValueRejected:
            settled = True
            source.breaker.success()  # the source answered; the caller's value cannot be held there
            self._count(source, "rejected")
            raise BadUserInput(
                f"source {source.id} cannot take a value of this request (a character or a number "
                "it cannot hold, such as the NUL character)"
            ) from None
        except QueryRejected as e:
            settled = True
            source.breaker.success()  # the source answered; the hub asked it wrongly
            self._count(source, "rejected")
            raise Internal(
                f"the hub built a query that source {source.id} could not run; "
                "quote the request id to the hub's operators",
                detail=str(e),
            ) from None
        except SourceError as e:
            settled = True
            self._failed(source, "error", str(e))
            raise SourceUnavailable(f"source {source.id} is unavailable", source=source.id) from None
        finally:
            self.metrics.child(self.metrics.source_seconds, source.id).observe(time.perf_counter() - started)
            if not settled:
                source.breaker.abandon()

    def _count(self, source: Source, outcome: str) -> None:
        m = self.metrics
        m.child(m.source_requests, source.id, outcome).inc()
        m.child(m.breaker_open, source.id).set(1 if source.breaker.opened_at is not None else 0)

    def _failed(self, source: Source, outcome: str, reason: str) -> None:
        source.breaker.failure()
        self._count(source, outcome)
        log.warning(
            "source %s failed (%s; breaker %s): %s", source.id, outcome, source.breaker.state.value, reason
        )

    async def health(self) -> dict[str, dict[str, str]]:
        """Per source: `state` (ok, source_unavailable, source_timeout) and `breaker`."""

        async def one(s: Source) -> dict[str, str]:
            try:
                await self.call(s, lambda a: a.health())
                state = "ok"
            except (SourceTimeout, SourceUnavailable) as e:
                state = e.code.lower()
            return {"state": state, "breaker": s.breaker.state.value}

        states = await asyncio.gather(*(one(s) for s in self.by_id.values()))
        return dict(zip(self.by_id, states, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(s.adapter.close() for s in self.by_id.values()))


class Calls(Protocol):
    """What the executor needs: the source of each dataset, and a way to call it."""

    @property
    def of_dataset(self) -> Mapping[str, Source]: ...

    async def call(self, source: Source, work: Callable[[Adapter], Awaitable[T]]) -> T: ...


class Lanes:
    """One request's way to the sources: at most `width` of its calls run on one source
    at a time, the rest wait their turn in the hub, and a call's timeout starts with its
    turn. Without lanes, one anonymous request of 100 aliased aggregates put 100 statements
    on SQLite at once; they ran past the source's timeout together and opened its breaker
    for every caller."""

    def __init__(self, sources: Sources, width: int) -> None:
        self.sources = sources
        self.width = width
        self.of_dataset: Mapping[str, Source] = sources.of_dataset
        self._turns: dict[str, asyncio.Semaphore] = {}

    async def call(self, source: Source, work: Callable[[Adapter], Awaitable[T]]) -> T:
        turn = self._turns.get(source.id)
        if turn is None:
            turn = self._turns[source.id] = asyncio.Semaphore(self.width)
        async with turn:
            return await self.sources.call(source, work)
