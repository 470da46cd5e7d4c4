"""The live sources of a catalog: one adapter per (OPD, source), each with its timeout.

Every call to a source goes through `Sources.call`, which applies the source's
timeout and turns failures into coded errors (DESIGN §7) while the reason goes to
the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import adapters
from adapters.base import Adapter, Binding, SourceError
from adapters.memory import RowBudgetExceeded
from hub.catalog import Catalog, CatalogError, Dataset, Problem
from hub.errors import QueryTooComplex, SourceTimeout, SourceUnavailable

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


def check_adapters(catalog: Catalog) -> list[Problem]:
    """Sources whose adapter kind this installation does not have."""
    kinds = adapters.available()
    return [
        Problem(catalog.paths[opd], f"sources.{name}.adapter",
                f"unknown adapter {spec.adapter!r} (available: {', '.join(sorted(kinds))})")
        for opd, name, spec in catalog.sources()
        if spec.adapter not in kinds
    ]  # fmt: skip


class Sources:
    def __init__(self, catalog: Catalog) -> None:
        problems = check_adapters(catalog)
        if problems:
            raise CatalogError(problems)
        self.by_id: dict[str, Source] = {}
        self.of_dataset: dict[str, Source] = {}
        for opd, name, spec in catalog.sources():
            bindings = [binding(d) for d in catalog.of_opd(opd) if d.source_name == name]
            source_id = f"{opd}.{name}"
            adapter = adapters.create(spec.adapter, source_id, spec.model_dump(), bindings)
            self.by_id[source_id] = Source(source_id, adapter, spec.timeout)
            for b in bindings:
                self.of_dataset[b.name] = self.by_id[source_id]

    async def call(self, source: Source, work: Callable[[Adapter], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(source.timeout):
                return await work(source.adapter)
        except TimeoutError:
            log.warning("source %s timed out after %ss", source.id, source.timeout)
            raise SourceTimeout(f"source {source.id} did not answer in time", source=source.id) from None
        except RowBudgetExceeded:
            log.warning("source %s: row budget exceeded", source.id)
            raise QueryTooComplex(
                f"answering needs more rows than source {source.id} may hand over; narrow the filter",
                source=source.id,
            ) from None
        except SourceError as e:
            log.warning("source %s failed: %s", source.id, e)
            raise SourceUnavailable(f"source {source.id} is unavailable", source=source.id) from None

    async def health(self) -> dict[str, str]:
        async def one(s: Source) -> str:
            try:
                await self.call(s, lambda a: a.health())
                return "ok"
            except (SourceTimeout, SourceUnavailable) as e:
                return e.code.lower()

        states = await asyncio.gather(*(one(s) for s in self.by_id.values()))
        return dict(zip(self.by_id, states, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(s.adapter.close() for s in self.by_id.values()))
