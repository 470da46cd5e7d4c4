"""Two `hub serve` instances behind HAProxy, run from the shipped deploy/haproxy.cfg itself
(its LB_* variables pointing at loopback ports), as deploy/README.md sets them up; HAProxy
finds the file valid, without a warning.

Both instances serve, and a cursor one issued is followed on the other; a killed instance
costs no later client an error (a refused connection is retried on the other), is taken
out by its health check and back in when it returns on its port; the audit chain holds
exactly one record per answer, so no request was sent twice. An instance stopped with
SIGTERM under load drains first and costs no client an answer. While a source every instance shares
is down, no instance is ready (/readyz 503) and the proxy sends requests to the live ones,
which answer the other source's data and the open pages. The proxy's flood guard counts
per client address, and so do the hub's budgets behind it: the hub reads the address the
proxy puts in X-Forwarded-For.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.catalogs import write_catalog
from tests.support.databases import SERVERS, ScratchDatabase
from tests.support.haproxy import CONFIG, Haproxy, haproxy, running_haproxy
from tests.support.hubcli import Running, hub_env, run_hub, running_hub
from tests.support.proxy import closed_port
from tests.support.regency import load_regency, make_rows, write_policies

REPO = Path(__file__).resolve().parents[1]  # on the served hubs' PYTHONPATH: this checkout's code
PEOPLE, RECIPIENTS = make_rows(residents=60)
SHARED = {"HUB_CURSOR_SECRET": "deploy-cursor", "HUB_AUDIT_KEY": "deploy-audit", "HUB_DISCLOSURE_KEY": "d"}
PAGE = "query($after: String) { dukcapil { penduduk(first: 7, after: $after) { nodes { nik } pageInfo { hasNextPage endCursor } } } }"
RECIPIENTS_PAGE = "{ dinsos { penerimaBansos(first: 3) { nodes { id } } } }"
READY = {(backend, server): "UP" for backend in ("hub_ready", "hub_alive") for server in ("a", "b")}


@pytest_asyncio.fixture(scope="module")
async def regency(tmp_path_factory: Any) -> AsyncIterator[tuple[Path, ScratchDatabase]]:
    """Residents in SQLite, recipients in PostgreSQL (a source the test can take down),
    the catalog over them and a policy under which user:tester may do everything."""
    haproxy()  # skip before building anything when it is missing
    tmp = tmp_path_factory.mktemp("deploy")
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS, kind="sqlite", recipients_kind="postgresql")
    # the recipients' breaker probes again after 1 s: the test waits for the source's return
    write_catalog(tmp / "schema", databases[0].url, databases[1].url, recipients_source={"breaker_reset": 1})
    write_policies(tmp / "policies")
    yield tmp, databases[1]
    for db in databases:
        await db.drop()


@dataclass(frozen=True)
class Deployment:
    """What the instances share: catalog, policies, a PostgreSQL store, the secrets, and a
    key for user:tester made with `hub clients create`."""

    schema: Path
    tmp: Path
    env: dict[str, str]
    key: str

    @contextmanager
    def instance(self, port: int, name: str, **env: str) -> Iterator[Running]:
        args = ("serve", "--schema", str(self.schema / "schema"), "--policies", str(self.schema / "policies"))
        log = self.tmp / f"{name}.log"
        with running_hub(*args, "--port", str(port), cwd=self.tmp, env=self.env | env, log=log) as hub:
            yield hub


@pytest_asyncio.fixture
async def deployment(regency: tuple[Path, ScratchDatabase], tmp_path: Path) -> AsyncIterator[Deployment]:
    store = await ScratchDatabase("postgresql", tmp_path).create()
    env = hub_env(HUB_DATABASE_URL=store.url, PYTHONPATH=str(REPO), **SHARED)
    created = await run_hub("clients", "create", "user:tester", cwd=tmp_path, env=env)
    assert created.code == 0, created.stderr
    yield Deployment(regency[0], tmp_path, env, created.stdout.strip().splitlines()[-1])
    await store.drop()


def test_the_shipped_configuration_is_valid_without_warnings() -> None:
    checked = subprocess.run([haproxy(), "-c", "-f", str(CONFIG)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[WARNING]" not in checked.stdout + checked.stderr, checked.stdout + checked.stderr


async def test_both_instances_serve_share_cursors_outlive_a_kill_and_keep_one_audit_chain(
    deployment: Deployment,
) -> None:
    d = deployment
    port_a = closed_port()
    with ExitStack() as stack:
        a = stack.enter_context(d.instance(port_a, "a"))
        b = stack.enter_context(d.instance(closed_port(), "b"))
        proxy = stack.enter_context(running_haproxy(d.tmp / "haproxy.log", hub_a=a.base, hub_b=b.base))
        await proxy.wait_for(READY)

        # every page on a new connection: the next page's cursor was issued by the other instance
        before = [await answered(a), await answered(b)]
        niks, pages = await page_through(proxy, d.key)
        assert niks == sorted(p["nik"] for p in PEOPLE)
        served = [await answered(a) - before[0], await answered(b) - before[1]]
        assert min(served) > 0 and sum(served) == pages, served
        audited = pages

        # a dies: each request is answered (by b, after a refused connection) until the
        # health check has taken a out, and after
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait()
        before_b = await answered(b)
        sent = 0
        deadline = time.monotonic() + 30
        while (await proxy.states())[("hub_ready", "a")] != "DOWN":
            assert time.monotonic() < deadline, proxy.printed()
            await one_page(proxy, d.key)
            sent += 1
            await asyncio.sleep(0.05)
        for _ in range(5):
            await one_page(proxy, d.key)
        sent += 5
        assert await answered(b) - before_b == sent
        audited += sent

        # a again on its port: taken back in, and served again
        a = stack.enter_context(d.instance(port_a, "a-again"))
        await proxy.wait_for({("hub_ready", "a"): "UP"})
        for _ in range(10):
            await one_page(proxy, d.key)
            audited += 1
            if await answered(a):
                break
        assert await answered(a) > 0, proxy.printed()

    verified = await run_hub("audit", "verify", cwd=d.tmp, env=d.env)
    assert verified.code == 0, verified.stdout + verified.stderr
    assert f"{audited} records" in verified.stdout + verified.stderr, verified.stdout + verified.stderr


async def test_an_instance_stopped_with_sigterm_under_load_costs_no_client_an_answer(
    deployment: Deployment,
) -> None:
    """SIGTERM (systemd's stop, a rolling restart) while eight keep-alive clients read
    through the proxy: the instance drains (HUB_DRAIN_SECONDS, as deploy/hub.env.example
    sets it: /readyz 503 until the proxy has taken it out), finishes what it holds and
    exits; every request is answered 200, by it or by the other, and the audit chain has
    one record per answer. Without the drain, about one stop in six lost a request sent on
    a keep-alive connection the instance was closing."""
    d = deployment
    with ExitStack() as stack:
        a = stack.enter_context(d.instance(closed_port(), "a", HUB_DRAIN_SECONDS="5"))
        b = stack.enter_context(d.instance(closed_port(), "b"))
        log = d.tmp / "haproxy.log"  # the flood guard off: eight clients from one address
        proxy = stack.enter_context(running_haproxy(log, hub_a=a.base, hub_b=b.base, LB_RATE="1000000"))
        await proxy.wait_for(READY)
        statuses: list[int | str] = []
        stop = asyncio.Event()

        async def client() -> None:
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {d.key}"}, timeout=30) as c:
                while not stop.is_set():
                    try:
                        r = await c.post(proxy.base + "/graphql", json={"query": PAGE})
                        statuses.append(r.status_code if "errors" not in r.json() else r.text)
                    except httpx.HTTPError as e:
                        statuses.append(f"{type(e).__name__}: {e}")

        clients = [asyncio.create_task(client()) for _ in range(8)]
        deadline = time.monotonic() + 30
        while await answered(a) < 20:  # a serves its share of the load
            assert time.monotonic() < deadline, proxy.printed()
            await asyncio.sleep(0.05)
        a.process.send_signal(signal.SIGTERM)
        exited = await asyncio.to_thread(a.process.wait, 30)
        await proxy.wait_for({("hub_ready", "a"): "DOWN"})
        after = len(statuses)
        deadline = time.monotonic() + 30
        while len(statuses) < after + 50:  # and b carries on alone
            assert time.monotonic() < deadline, proxy.printed()
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*clients)
        # uvicorn raises the signal again once it has shut down: exit status 0 or -SIGTERM
        assert exited in (0, -signal.SIGTERM), a.printed()
        failed = [s for s in statuses if s != 200]
        assert not failed, (
            f"{len(failed)} of {len(statuses)} requests failed: {failed[:5]}\n{proxy.printed()}"
        )

    verified = await run_hub("audit", "verify", cwd=d.tmp, env=d.env)
    assert verified.code == 0, verified.stdout + verified.stderr
    assert f"{len(statuses)} records" in verified.stdout + verified.stderr, verified.stdout + verified.stderr


async def test_while_a_shared_source_is_down_the_live_instances_answer_what_they_can(
    deployment: Deployment, regency: tuple[Path, ScratchDatabase]
) -> None:
    d, recipients = deployment, regency[1]
    with ExitStack() as stack:
        a = stack.enter_context(d.instance(closed_port(), "a"))
        b = stack.enter_context(d.instance(closed_port(), "b"))
        proxy = stack.enter_context(running_haproxy(d.tmp / "haproxy.log", hub_a=a.base, hub_b=b.base))
        await proxy.wait_for(READY)
        await admit(recipients, False)
        try:
            down = {("hub_ready", "a"): "DOWN", ("hub_ready", "b"): "DOWN"}
            await proxy.wait_for(down | {("hub_alive", "a"): "UP", ("hub_alive", "b"): "UP"})
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {d.key}"}) as c:
                page = await c.get(proxy.base + "/public/")
                assert page.status_code == 200, page.text  # not HAProxy's 503: no server is ready
                failed = await c.post(proxy.base + "/graphql", json={"query": RECIPIENTS_PAGE})
                assert failed.status_code == 200, failed.text
                assert failed.json()["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE", failed.text
                ready = await c.get(proxy.base + "/readyz")  # the instance's own answer, passed on
                assert ready.status_code == 503
                assert ready.json()["sources"]["dinsos.main"]["state"] != "ok", ready.text
            await one_page(proxy, d.key)  # the residents' source answers
        finally:
            await admit(recipients, True)
        await proxy.wait_for(READY, within=60)


async def test_rate_limits_count_per_client_address_at_the_proxy_and_at_the_hub(
    deployment: Deployment,
) -> None:
    d = deployment
    # one instance (b is nowhere); the hub's public budget 3 a minute, the proxy's 5 in 10 s
    with d.instance(closed_port(), "a", HUB_RATE_LIMIT_PUBLIC="3/minute") as a:
        log = d.tmp / "haproxy.log"
        with running_haproxy(log, hub_a=a.base, hub_b=f"127.0.0.1:{closed_port()}", LB_RATE="5") as proxy:
            await proxy.wait_for({("hub_ready", "a"): "UP", ("hub_ready", "b"): "DOWN"})
            remaining = []
            for address in ("127.0.0.2", "127.0.0.3", "127.0.0.2"):
                async with client_at(address) as c:
                    r = await c.get(proxy.base + "/public/")
                assert r.status_code == 200, r.text
                remaining.append(r.headers["ratelimit-remaining"])
            assert remaining == ["2", "2", "1"]  # the hub counts each client apart, not the proxy's address

            async with client_at("127.0.0.4") as c:
                statuses = [(await c.get(proxy.base + "/healthz")).status_code for _ in range(6)]
                assert statuses == [200] * 5 + [429]
                refused = await c.get(proxy.base + "/healthz")
            assert refused.headers["retry-after"] == "10"
            assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            async with client_at("127.0.0.5") as c:
                assert (await c.get(proxy.base + "/healthz")).status_code == 200
                assert (await c.get(proxy.base + "/metrics")).status_code == 404  # scraped per instance
            assert (await httpx.AsyncClient().get(a.base + "/metrics")).status_code == 200


def client_at(address: str, **kwargs: Any) -> httpx.AsyncClient:
    """A client whose connections come from `address` (any of 127.0.0.0/8 is this machine)."""
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address), **kwargs)


async def answered(hub: Running) -> int:
    """The /graphql requests this instance has answered 200, from its own /metrics."""
    async with httpx.AsyncClient() as c:
        text = (await c.get(hub.base + "/metrics")).text
    found = re.search(r'^hub_requests_total\{route="/graphql",status="200"\} (\S+)$', text, re.MULTILINE)
    return int(float(found[1])) if found else 0


async def one_page(proxy: Haproxy, key: str, after: str | None = None) -> dict[str, Any]:
    """One page of residents through the proxy, on a new connection; answered in full."""
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}) as c:
        r = await c.post(proxy.base + "/graphql", json={"query": PAGE, "variables": {"after": after}})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    page: dict[str, Any] = r.json()["data"]["dukcapil"]["penduduk"]
    return page


async def page_through(proxy: Haproxy, key: str) -> tuple[list[str], int]:
    """Every resident's NIK, page by page, and how many pages that took."""
    niks: list[str] = []
    after, pages = None, 0
    while True:
        page = await one_page(proxy, key, after)
        pages += 1
        niks += [n["nik"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return niks, pages
        after = page["pageInfo"]["endCursor"]


async def admit(db: ScratchDatabase, allowed: bool) -> None:
    """Let the database take connections again, or refuse them and end those it has: a
    source down for every instance at once."""
    engine = create_async_engine(SERVERS["postgresql"][2].format(db="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f"ALTER DATABASE {db.name} ALLOW_CONNECTIONS {str(allowed).lower()}"))
            if not allowed:
                await conn.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": db.name},
                )
    finally:
        await engine.dispose()
