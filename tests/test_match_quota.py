"""Daily match quotas (hub/store/quotas.py): records compared per subject and UTC day,
refused whole with HTTP 429 past the quota, on every store the quota can live in, and
through `hub serve` processes sharing it and a restart."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hub.demo.generate import MIN_RESIDENTS, generate
from hub.http.app import Hub, create_app
from hub.settings import Settings
from hub.store import clients
from hub.store.in_redis import RedisQuotaBook
from hub.store.quotas import QuotaBook, SqlQuotaBook, day_of
from tests.support.books import KINDS, books_on
from tests.support.databases import REDIS, require_server
from tests.support.hubcli import hub_env, run_hub, running_hubs

REPO = Path(__file__).resolve().parents[1]
NOON = 1_800_014_400.0  # 2027-01-15 12:00:00 UTC: 12 h before the quota renews
MATCH = "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { found } } }"

Books = Callable[[], QuotaBook]


@pytest_asyncio.fixture(params=KINDS)
async def books(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Books]:
    async with books_on(request.param, tmp_path, SqlQuotaBook, RedisQuotaBook) as make:
        yield make


def subject() -> str:
    return f"user:quota-{uuid.uuid4().hex[:12]}"  # Redis is shared by every run


def test_the_quota_renews_at_midnight_utc() -> None:
    assert day_of(NOON) == ("2027-01-15", 12 * 3600)
    assert day_of(NOON + 12 * 3600 - 0.5) == ("2027-01-15", 1)
    assert day_of(NOON + 12 * 3600) == ("2027-01-16", 24 * 3600)


async def test_a_charge_past_the_quota_is_refused_and_not_counted(books: Books) -> None:
    book, who = books(), subject()
    assert await book.charge(who, 600, 1000, now=NOON) is None
    assert await book.charge(who, 401, 1000, now=NOON) == 12 * 3600  # would be 1,001
    assert await book.charge(who, 400, 1000, now=NOON + 60) is None  # the refused 401 left no trace
    assert await book.charge(who, 1, 1000, now=NOON + 60) == 12 * 3600 - 60
    assert await book.charge(subject(), 1000, 1000, now=NOON) is None  # each subject its own
    assert await book.charge(who, 1000, 1000, now=NOON + 12 * 3600) is None  # a new day


async def test_concurrent_charges_from_many_processes_stay_within_the_quota(books: Books) -> None:
    who = subject()
    many = [books() for _ in range(10)]
    refused = await asyncio.gather(*(book.charge(who, 30, 100, now=NOON) for book in many))
    assert sum(r is None for r in refused) == 3, refused


# --- through the hub ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    data = tmp_path_factory.mktemp("quota-demo")
    generate(data, residents=MIN_RESIDENTS, progress=False)
    conn = sqlite3.connect(data / "dukcapil.db")
    niks = [nik for (nik,) in conn.execute("SELECT nik FROM penduduk ORDER BY nik")]
    conn.close()
    return data, niks


def records(niks: list[str], n: int) -> list[dict[str, str]]:
    """`n` records naming NIKs (cycling through the register, as an enumeration would)."""
    return [{"nik": niks[i % len(niks)]} for i in range(n)]


async def test_nik_enumeration_past_the_daily_quota_is_refused(
    demo: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, niks = demo
    monkeypatch.setenv("HUB_DEMO_DIR", str(data))
    hub = await Hub.start(
        Settings(
            schema_dir=REPO / "schema", policies_dir=REPO / "policies", match_quota=1500,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        )
    )  # fmt: skip
    own = (await clients.create(hub.store, "opd:dinsos")).key
    small = (await clients.create(hub.store, "opd:dinkes", match_quota=200)).key
    transport = httpx.ASGITransport(app=create_app(hub=hub))

    async def ask(key: str, n: int, where: str = "match") -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            if where == "match":
                body: dict[str, Any] = {"query": MATCH, "variables": {"r": records(niks, n)}}
            else:  # the same NIKs as a key filter with totalCount
                query = "query($w: DukcapilPendudukWhere) { dukcapil { penduduk(where: $w) { totalCount } } }"
                body = {"query": query, "variables": {"w": {"nik": {"in": niks[:n]}}}}
            return await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {key}"})

    try:
        assert (await ask(own, 1000)).status_code == 200
        refused = await ask(own, 501)
        assert refused.status_code == 429, refused.text
        assert 0 < int(refused.headers["retry-after"]) <= 24 * 3600
        body = refused.json()
        assert "data" not in body and [e["extensions"]["code"] for e in body["errors"]] == ["QUOTA_EXCEEDED"]
        assert "1500 records compared a day" in body["errors"][0]["message"]
        # key filters count as match records do; the refused 501 were not counted
        assert (await ask(own, 500, where="filter")).status_code == 200
        assert (await ask(own, 1, where="filter")).status_code == 429
        # a client's own quota, lower than the setting
        assert (await ask(small, 200)).status_code == 200
        assert (await ask(small, 1)).status_code == 429
    finally:
        await hub.close()


@pytest.mark.parametrize("where", ["store", "redis"])
async def test_two_hub_processes_and_a_restart_keep_one_quota(
    demo: tuple[Path, list[str]], tmp_path: Path, where: str
) -> None:
    if where == "redis":
        require_server("redis")
    data, niks = demo
    who = subject()  # a subject of its own (Redis outlives the test), with Dinsos's rights
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    with (policies / "policy.csv").open("a") as csv:
        csv.write(f"\ng, {who}, opd:dinsos\n")
    extra = {"HUB_REDIS_URL": REDIS[2]} if where == "redis" else {}
    env = hub_env(
        HUB_DEMO_DIR=str(data), HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        HUB_MATCH_QUOTA="1500", **extra,
    )  # fmt: skip
    created = await run_hub("clients", "create", who, env=env, cwd=tmp_path)
    assert created.code == 0, created.stderr
    key = created.stdout.strip()

    def status(base: str, n: int) -> int:
        r = httpx.post(
            f"{base}/graphql", json={"query": MATCH, "variables": {"r": records(niks, n)}},
            headers={"Authorization": f"Bearer {key}"}, timeout=30, trust_env=False,
        )  # fmt: skip
        return r.status_code

    serve = ("serve", "--schema", str(REPO / "schema"), "--policies", str(policies), "--port", "0")
    with running_hubs(*serve, cwd=tmp_path, env=env, logs=[tmp_path / "a.log", tmp_path / "b.log"]) as (a, b):
        assert await asyncio.to_thread(status, a.base, 1000) == 200
        assert await asyncio.to_thread(status, b.base, 600) == 429
        assert await asyncio.to_thread(status, b.base, 400) == 200
    with running_hubs(*serve, cwd=tmp_path, env=env, logs=[tmp_path / "c.log"]) as (c,):
        assert await asyncio.to_thread(status, c.base, 101) == 429
        assert await asyncio.to_thread(status, c.base, 100) == 200
