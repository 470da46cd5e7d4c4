"""The audit log fails closed (docs/design.md §6): when the store cannot take the record,
the hub withholds the non-public data (AUDIT_UNAVAILABLE), still answers what is
public, and resumes by itself once the store is back, with a log that verifies.

The store is a PostgreSQL database at 127.0.0.1:5432 (skipped without it, failed under
HUB_REQUIRE_SERVICES=1), reached through a TCP proxy the tests take down and bring back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hub.audit.log import verify
from hub.http.app import Hub
from hub.store.db import AuditRecord
from tests.support.audit import PLACES, READ, distinct_people, gql, in_process_hub, lock_waiters, values_of
from tests.support.databases import ScratchDatabase, require_server
from tests.support.proxy import Proxy
from tests.support.regency import EVERYTHING, load_regency, write_policies
from tests.support.waiting import eventually

PUBLIC_READ = "p, *, class:public, read, allow\n"  # the public may read public fields


@dataclass(frozen=True)
class Outage:
    """The store's reachability: `down()` refuses every connection, `up()` restores it."""

    down: Callable[[], Awaitable[None]]
    up: Callable[[], Awaitable[None]]


@asynccontextmanager
async def hub_behind_proxy(
    tmp: Path, people_kind: str
) -> AsyncIterator[tuple[Hub, httpx.AsyncClient, Outage, list[dict[str, Any]], ScratchDatabase]]:
    """A hub whose PostgreSQL store is reached through a proxy that can go down; the
    residents' source on `people_kind`."""
    people, recipients = distinct_people(40)
    store = await ScratchDatabase("postgresql", tmp).create()
    databases = await load_regency(tmp, people, recipients, kind=people_kind, recipients_kind="sqlite")
    write_policies(tmp / "policies", EVERYTHING + PUBLIC_READ)
    proxy = Proxy(5432)
    await proxy.up()
    up = True

    async def down() -> None:
        nonlocal up
        await proxy.down()
        up = False

    async def back() -> None:
        nonlocal up
        await proxy.up()
        up = True

    try:
        url = store.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        async with in_process_hub(tmp, url, raise_app_exceptions=False) as (hub, callers):
            yield hub, callers["user:tester"], Outage(down, back), people, databases[0]
    finally:
        if up:
            await proxy.down()
        await store.drop()
        for db in databases:
            await db.drop()


async def test_the_store_failing_mid_request_withholds_the_data_and_service_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_server("postgresql")
    async with hub_behind_proxy(tmp_path, "postgresql") as (hub, client, store, people, residents):
        stored = values_of(people)
        served: list[str] = []  # request ids of confidential answers

        first = await gql(client, READ, {"nik": people[0]["nik"]})
        assert first.status_code == 200 and first.json()["data"]["dukcapil"]["penduduk"]["nodes"]
        served.append(first.headers["x-request-id"])

        # Authenticated while the store was up; the store goes down while the source is
        # still answering (its table locked), so the audit write is what fails.
        locker = create_async_engine(residents.url)
        try:
            async with locker.connect() as lock, locker.connect() as watch:
                await lock.execute(sa.text("LOCK TABLE penduduk IN ACCESS EXCLUSIVE MODE"))
                pending = asyncio.create_task(gql(client, READ, {"nik": people[1]["nik"]}))

                async def source_waits() -> bool:
                    return await lock_waiters(watch) >= 1

                await eventually(source_waits, 10, "the hub's source query to wait on the lock")
                await store.down()
                await lock.rollback()
        finally:
            await locker.dispose()
        refused = await asyncio.wait_for(pending, 15)
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
        assert "data" not in body
        assert not [v for v in stored if v in refused.text]
        assert any(
            r.name == "hub.audit"
            and r.levelno == logging.ERROR
            and "audit store unavailable" in r.getMessage()
            for r in caplog.records
        )

        # still down: nothing confidential comes out; public data still does
        again = await gql(client, READ, {"nik": people[2]["nik"]})
        assert again.status_code != 200
        assert not [v for v in stored if v in again.text]
        public = await gql(client, PLACES, path="/public/graphql")
        assert public.status_code == 200, public.text
        assert public.json() == {
            "data": {"dukcapil": {"penduduk": {"nodes": [{"kecamatan": p["kecamatan"]} for p in people[:5]]}}}
        }

        # the store returns: service resumes by itself, and what is written verifies
        await store.up()
        resumed: httpx.Response | None = None

        async def answers() -> bool:
            nonlocal resumed
            resumed = await gql(client, READ, {"nik": people[3]["nik"]})
            return resumed.status_code == 200

        await eventually(answers, 10, "a confidential answer after the store came back")
        assert resumed is not None
        assert resumed.json()["data"]["dukcapil"]["penduduk"]["nodes"] == [
            {"nik": people[3]["nik"], "nama": people[3]["nama"]}
        ]
        served.append(resumed.headers["x-request-id"])
        for p in people[4:7]:
            r = await gql(client, READ, {"nik": p["nik"]})
            assert r.status_code == 200
            served.append(r.headers["x-request-id"])

        verdict = await verify(hub.store)
        assert verdict.ok, verdict
        async with hub.store.connect() as conn:
            logged = (
                await conn.execute(sa.select(AuditRecord.request_id).order_by(AuditRecord.seq))
            ).scalars()
            assert list(logged) == served  # the refused requests left no record


async def test_the_store_down_before_the_request_answers_audit_unavailable(tmp_path: Path) -> None:
    require_server("postgresql")
    async with hub_behind_proxy(tmp_path, "sqlite") as (_hub, client, store, people, _residents):
        assert (await gql(client, READ, {"nik": people[0]["nik"]})).status_code == 200
        await store.down()
        r = await gql(client, READ, {"nik": people[1]["nik"]})
        assert not [v for v in values_of(people) if v in r.text]  # fails closed already...
        assert r.status_code == 503, r.text  # ...but not with a coded error
        assert r.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
