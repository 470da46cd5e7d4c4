"""`Hub.start(audit_sink=...)`: the public seam through which a benchmark or a deployment
puts its own audit store behind the hub (bench/overhead_server.py's `no-audit` variant
is one). The hub must hand every non-public release to that sink, wait for it, and
refuse the answer when the sink cannot make the record durable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.audit.chain import Entry
from hub.errors import AuditWriteFailed
from hub.http.app import Hub
from hub.settings import Settings
from tests.support.regency import client_for, load_regency, make_rows, write_policies

CONFIDENTIAL = "{ dukcapil { penduduk(first: 3) { nodes { nik nama } } } }"
PUBLIC = "{ dukcapil { pendudukAggregate(groupBy: [kecamatan]) { group { kecamatan } count } } }"


class ListSink:
    """Keeps what it is given, in memory; `fail` makes every append fail as a store would."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.closed = False
        self.fail = False

    async def append(self, entry: Entry) -> int:
        if self.fail:
            raise AuditWriteFailed("OperationalError")
        self.entries.append(entry)
        return len(self.entries)

    async def aclose(self) -> None:
        self.closed = True


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Hub, httpx.AsyncClient, ListSink]]:
    await load_regency(tmp_path, *make_rows(residents=40))
    settings = Settings(
        schema_dir=tmp_path / "schema", policies_dir=write_policies(tmp_path / "policies"),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
    )  # fmt: skip
    sink = ListSink()
    hub = await Hub.start(settings, audit_sink=sink)
    client = await client_for(hub, "user:tester")
    try:
        yield hub, client, sink
    finally:
        await client.aclose()
        await hub.close()


async def _store_records(hub: Hub) -> int:
    async with hub.store.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM audit_log"))).scalar_one())


@pytest.mark.asyncio
async def test_a_confidential_release_goes_to_the_given_sink_and_not_to_the_store(
    served: tuple[Hub, httpx.AsyncClient, ListSink],
) -> None:
    hub, client, sink = served
    r = await client.post("/graphql", json={"query": CONFIDENTIAL})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert len(r.json()["data"]["dukcapil"]["penduduk"]["nodes"]) == 3
    assert [(e.subject, e.datasets, e.rows, e.outcome) for e in sink.entries] == [
        ("user:tester", ("dukcapil.penduduk",), 3, "ok")
    ]
    assert await _store_records(hub) == 0


@pytest.mark.asyncio
async def test_a_public_answer_is_not_handed_to_the_sink(
    served: tuple[Hub, httpx.AsyncClient, ListSink],
) -> None:
    _, client, sink = served
    r = await client.post("/graphql", json={"query": PUBLIC})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert sink.entries == []


@pytest.mark.asyncio
async def test_a_failing_sink_withholds_the_answer(served: tuple[Hub, httpx.AsyncClient, ListSink]) -> None:
    _, client, sink = served
    sink.fail = True
    r = await client.post("/graphql", json={"query": CONFIDENTIAL})
    body = r.json()
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
    assert "nama" not in r.text


@pytest.mark.asyncio
async def test_closing_the_hub_closes_its_sink(served: tuple[Hub, httpx.AsyncClient, ListSink]) -> None:
    hub, _, sink = served
    assert not sink.closed
    await hub.audit.close()
    assert sink.closed
