"""One failing source nulls only its own fields; the others answer, and promptly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.http.app import Hub
from tests.support.catalogs import write_catalog
from tests.support.databases import ScratchDatabase, require_server
from tests.support.proxy import Proxy, closed_port
from tests.support.regency import PENDUDUK, PENERIMA, load, make_rows, start_hub

QUERY = "{ dukcapil { penduduk(first: 2) { nodes { nik } } } dinsos { penerimaBansos(first: 2) { nodes { id } } } }"


async def hub_with_dinsos_at(
    tmp: Path, url: str, timeout: float, **source: Any
) -> tuple[Hub, httpx.AsyncClient]:
    """Residents on SQLite, and Dinsos's recipients at `url` (`source`: more source options)."""
    db = await ScratchDatabase("sqlite", tmp).create()
    await load(db.url, PENDUDUK, make_rows(50)[0])
    write_catalog(tmp / "schema", db.url, url, timeout=timeout, recipients_source=source)
    return await start_hub(tmp)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for w in held:
        w.close()
    server.close()


async def test_dead_source_gives_source_unavailable_and_the_rest_answers(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/nothing"
    hub, client = await hub_with_dinsos_at(tmp_path, url, timeout=5)
    try:
        r = await client.post("/graphql", json={"query": QUERY})
        body = r.json()
        assert r.status_code == 200
        assert len(body["data"]["dukcapil"]["penduduk"]["nodes"]) == 2
        assert body["data"]["dinsos"]["penerimaBansos"] is None
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
        assert error["path"] == ["dinsos", "penerimaBansos"]
        assert "127.0.0.1" not in r.text and "asyncpg" not in r.text
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["sources"] == {
            "dukcapil.main": {"state": "ok", "breaker": "closed"},
            "dinsos.main": {"state": "source_unavailable", "breaker": "closed"},
        }
        assert (await client.get("/healthz")).status_code == 200
    finally:
        await client.aclose()
        await hub.close()


async def test_hanging_source_times_out_without_delaying_others(tmp_path: Path, silent_server: int) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{silent_server}/nothing"
    hub, client = await hub_with_dinsos_at(tmp_path, url, timeout=1)
    try:
        started = time.monotonic()
        r = await client.post("/graphql", json={"query": QUERY})
        elapsed = time.monotonic() - started
        body = r.json()
        assert body["data"]["dukcapil"]["penduduk"]["nodes"]
        assert body["data"]["dinsos"]["penerimaBansos"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["SOURCE_TIMEOUT"]
        assert 0.9 <= elapsed < 2.0, elapsed
        # The live source's own call was not held up by the hanging one (they run concurrently).
        live = hub.metrics.source_seconds.labels("dukcapil.main")._sum.get()
        assert live < 0.5, live

        # Two fields on the hanging source run concurrently: both time out within one timeout.
        started = time.monotonic()
        r = await client.post(
            "/graphql",
            json={
                "query": "{ dinsos { a: penerimaBansos { nodes { id } } b: penerimaBansos { totalCount } } }"
            },
        )
        elapsed = time.monotonic() - started
        assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["SOURCE_TIMEOUT"] * 2
        assert elapsed < 2.0, elapsed
    finally:
        await client.aclose()
        await hub.close()


async def test_breaker_opens_fails_fast_and_closes_when_the_source_returns(tmp_path: Path) -> None:
    require_server("postgresql")
    db = await ScratchDatabase("postgresql", tmp_path).create()
    try:
        await load(db.url, PENERIMA, make_rows(50)[1])
        proxy = Proxy(5432)
        await proxy.up()
        url = db.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        local = await ScratchDatabase("sqlite", tmp_path).create()
        await load(local.url, PENDUDUK, make_rows(50)[0])
        breaker = {"breaker_failures": 2, "breaker_reset": 0.5}
        write_catalog(tmp_path / "schema", local.url, url, timeout=2, recipients_source=breaker)
        hub, client = await start_hub(tmp_path)
        try:
            body = (await client.post("/graphql", json={"query": QUERY})).json()
            assert body["data"]["dinsos"]["penerimaBansos"]["nodes"], body

            await proxy.down()  # the source dies: connection refused
            for _ in range(2):  # two failures open the breaker
                body = (await client.post("/graphql", json={"query": QUERY})).json()
                assert [e["extensions"]["code"] for e in body["errors"]] == ["SOURCE_UNAVAILABLE"]
            ready = (await client.get("/readyz")).json()
            assert ready["sources"]["dinsos.main"]["breaker"] == "open"

            started = time.monotonic()
            body = (await client.post("/graphql", json={"query": QUERY})).json()
            assert time.monotonic() - started < 0.2  # fails at once, no connection attempt
            assert body["data"]["dukcapil"]["penduduk"]["nodes"]  # the live source still answers
            assert [e["extensions"]["code"] for e in body["errors"]] == ["SOURCE_UNAVAILABLE"]

            await proxy.up()  # the source comes back
            deadline = time.monotonic() + 5
            while True:  # after breaker_reset the next call is a probe; it succeeds and closes the breaker
                body = (await client.post("/graphql", json={"query": QUERY})).json()
                if "errors" not in body or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert "errors" not in body, body
            assert body["data"]["dinsos"]["penerimaBansos"]["nodes"]
            assert (await client.get("/readyz")).json()["sources"]["dinsos.main"]["breaker"] == "closed"
            metrics = (await client.get("/metrics")).text
            assert 'hub_source_requests_total{outcome="open",source="dinsos.main"}' in metrics
        finally:
            await client.aclose()
            await hub.close()
            await proxy.down()
    finally:
        await db.drop()


async def test_connections_the_server_drops_under_load_fail_only_their_own_requests(tmp_path: Path) -> None:
    """The pool (adapters/pg_pool.py) under load while PostgreSQL terminates every
    connection of the source, five times: each request answers (data, or its source's
    field null with SOURCE_UNAVAILABLE), and once the killing stops every request
    answers with data again, through connections the pool opened afresh."""
    require_server("postgresql")
    db = await ScratchDatabase("postgresql", tmp_path).create()
    try:
        await load(db.url, PENERIMA, make_rows(50)[1])
        hub, client = await hub_with_dinsos_at(tmp_path, db.url, 5, breaker_failures=100000)
        admin = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"))
        try:
            killed = 0

            async def kill() -> None:
                nonlocal killed
                for _ in range(5):
                    await asyncio.sleep(0.05)
                    killed += await admin.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )

            async def ask() -> dict[str, object]:
                r = await client.post("/graphql", json={"query": QUERY})
                assert r.status_code == 200, r.text
                body: dict[str, object] = r.json()
                return body

            async def load_while_killing() -> list[dict[str, object]]:
                answers: list[dict[str, object]] = []
                while not killer.done():
                    answers += await asyncio.gather(*(ask() for _ in range(8)))
                return answers

            killer = asyncio.ensure_future(kill())
            answers, _ = await asyncio.gather(load_while_killing(), killer)
            assert killed > 0
            for body in answers:
                assert body["data"]["dukcapil"]["penduduk"]["nodes"], body  # type: ignore[index]
                codes = [e["extensions"]["code"] for e in body.get("errors", [])]  # type: ignore[attr-defined]
                assert set(codes) <= {"SOURCE_UNAVAILABLE"}, body
            await asyncio.sleep(0.2)  # the pool notices the dropped idle connections at checkout
            after = await asyncio.gather(*(ask() for _ in range(20)))
            assert all("errors" not in body for body in after), after
        finally:
            await admin.close()
            await client.aclose()
            await hub.close()
    finally:
        await db.drop()


def test_why_a_postgresql_call_failed_never_quotes_a_value() -> None:
    """The reasons go to the log; asyncpg's encoding errors quote the argument."""
    import orjson

    from adapters.sql_pg import reason

    sql = "SELECT nik FROM penduduk WHERE nama = $1"
    encode = asyncpg.DataError("invalid input for query argument $1: 'Siti Aminah 2102000000000001' (bad)")
    try:
        orjson.dumps(["Siti Aminah \ud800"])
    except orjson.JSONEncodeError as e:
        unlisted = e
    for e in (encode, unlisted):
        why = reason(e, sql)
        assert "Siti" not in why and "2102" not in why
        assert why.startswith(type(e).__name__) and sql in why
