"""`hub serve --workers N` (hub/cli/workers.py): refused, naming each missing piece, unless
the processes share everything they must agree on; else N workers serve one port, pages
are followed by cursor on a new connection each (whichever worker takes it), a killed
worker is replaced while the others go on serving, every non-public answer is in the one
audit chain (`hub audit verify`), and SIGTERM lets requests in flight finish, answered
and audited, before every process is gone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.databases import ScratchDatabase
from tests.support.hubcli import Running, hub_env, run_hub, running_hub
from tests.support.regency import load_regency, make_rows, write_policies
from tests.support.workers import (
    LISTEN,
    alive,
    connections,
    serve_args,
    slow_regency,
    wait_for_workers,
    waiting,
)

REPO = Path(__file__).resolve().parents[1]  # on the served hub's PYTHONPATH: this checkout's code
PEOPLE, RECIPIENTS = make_rows(residents=60)
SHARED = {"HUB_CURSOR_SECRET": "workers-cursor", "HUB_AUDIT_KEY": "workers-audit", "HUB_DISCLOSURE_KEY": "d"}
PAGE = "query($after: String) { dukcapil { penduduk(first: 7, after: $after) { nodes { nik } pageInfo { hasNextPage endCursor } } } }"


@pytest_asyncio.fixture(scope="module")
async def regency(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("workers")
    await load_regency(tmp, PEOPLE, RECIPIENTS)
    write_policies(tmp / "policies")  # user:tester may do everything
    store = await ScratchDatabase("postgresql", tmp).create()
    env = hub_env(HUB_DATABASE_URL=store.url, PYTHONPATH=str(REPO), **SHARED)
    yield tmp, env
    await store.drop()


async def test_more_than_one_worker_is_refused_naming_what_is_missing(tmp_path: Path) -> None:
    env = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", PYTHONPATH=str(REPO))
    ran = await run_hub("serve", "--workers", "2", "--port", "0", cwd=tmp_path, env=env)
    assert ran.code == 2
    for name in ("HUB_DATABASE_URL", "HUB_CURSOR_SECRET", "HUB_AUDIT_KEY", "HUB_DISCLOSURE_KEY"):
        assert name in ran.stderr
    assert "Traceback" not in ran.stderr and "OPD Hub on" not in ran.stderr
    # one piece missing: only it is named
    env |= {"HUB_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/none", **SHARED}
    env.pop("HUB_AUDIT_KEY")
    ran = await run_hub("serve", "--workers", "2", "--port", "0", cwd=tmp_path, env=env)
    assert ran.code == 2
    assert "HUB_AUDIT_KEY" in ran.stderr and "HUB_CURSOR_SECRET" not in ran.stderr


async def test_workers_share_cursors_and_the_audit_chain_and_replace_the_dead(
    regency: tuple[Path, dict[str, str]],
) -> None:
    tmp, env = regency
    created = await run_hub("clients", "create", "user:tester", cwd=tmp, env=env)
    assert created.code == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    args = ("serve", "--schema", str(tmp / "schema"), "--policies", str(tmp / "policies"))
    with running_hub(*args, "--workers", "2", "--port", "0", cwd=tmp, env=env, log=tmp / "serve.log") as hub:
        assert "(2 workers)" in hub.printed()
        first = await wait_for_workers(hub, 2)
        niks = await _page_through(hub, key)  # each page on a new connection: any worker
        assert niks == sorted(p["nik"] for p in PEOPLE)
        pages = -(-len(PEOPLE) // 7)

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        now = await wait_for_workers(hub, 2, without=victim)
        assert victim not in now and len(now & first) == 1
        assert await _page_through(hub, key) == niks  # served throughout by who is there

    assert hub.process.returncode is not None  # SIGTERM (the block's end) stopped the parent
    assert not alive(now)
    # parent and workers alike log JSON lines (HUB_LOG_FORMAT's default); one access record
    # per page asked for, from whichever worker answered it
    logged = [json.loads(line) for line in hub.printed().splitlines()]
    paged = [r for r in logged if r["logger"] == "hub.access" and r["route"] == "/graphql"]
    assert len(paged) == 2 * pages and {r["subject"] for r in paged} == {"user:tester"}
    verified = await run_hub("audit", "verify", cwd=tmp, env=env)
    assert verified.code == 0, verified.stdout + verified.stderr
    assert f"{2 * pages} records" in verified.stdout + verified.stderr


async def _page_through(hub: Running, key: str) -> list[str]:
    niks: list[str] = []
    after = None
    while True:
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}) as c:  # a new connection
            r = await c.post(hub.base + "/graphql", json={"query": PAGE, "variables": {"after": after}})
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, body
        page = body["data"]["dukcapil"]["penduduk"]
        niks += [n["nik"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return niks
        after = page["pageInfo"]["endCursor"]


async def test_new_connections_are_shared_even_while_a_worker_is_busy(
    regency: tuple[Path, dict[str, str]],
) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel deals new
    connections among them. From one shared socket, the worker that is not busy took every
    new connection (16 keep-alive clients, all on one worker, the other idle for as long as
    they lasted). Here one worker is stopped while sixteen clients connect: about half of
    them wait for it, and are served once it goes on."""
    tmp, env = regency
    args = ("serve", "--schema", str(tmp / "schema"), "--policies", str(tmp / "policies"))
    with running_hub(*args, "--workers", "2", "--port", "0", cwd=tmp, env=env, log=tmp / "spread.log") as hub:
        workers = await wait_for_workers(hub, 2)
        port = int(hub.base.rsplit(":", 1)[1])
        await _until(lambda: all(connections(pid, port, LISTEN) for pid in workers))  # both started
        busy = min(workers)
        clients = [httpx.AsyncClient(base_url=hub.base, timeout=30) for _ in range(16)]
        try:
            os.kill(busy, signal.SIGSTOP)
            asked = [asyncio.create_task(c.get("/healthz")) for c in clients]
            await _until(lambda: sum(t.done() for t in asked) + waiting(port) == 16)
            os.kill(busy, signal.SIGCONT)
            assert all(r.status_code == 200 for r in await asyncio.gather(*asked))
            held = {pid: connections(pid, port) for pid in workers}  # the 16 are still open
        finally:
            os.kill(busy, signal.SIGCONT)
            await asyncio.gather(*(c.aclose() for c in clients))
    assert sum(held.values()) == 16 and all(held.values()), held


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


SLOW = "query { dukcapil { penduduk(first: 3) { nodes { nik } } } }"


async def test_sigterm_lets_requests_in_flight_finish_and_be_audited(tmp_path: Path) -> None:
    """Requests on a source that takes 2 s each are in flight when the parent gets SIGTERM:
    each is answered in full and audited, and then every process is gone."""
    async with slow_regency(tmp_path, PEOPLE, RECIPIENTS, 2, SHARED) as (env, key):
        log = tmp_path / "serve.log"
        with running_hub(*serve_args(tmp_path), cwd=tmp_path, env=env, log=log) as hub:
            workers = await wait_for_workers(hub, 2)
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=30) as c:
                asked = [
                    asyncio.create_task(c.post(hub.base + "/graphql", json={"query": SLOW})) for _ in range(4)
                ]
                await asyncio.sleep(0.8)  # the four are at the source (2 s each) when SIGTERM comes
                assert not any(t.done() for t in asked)
                hub.process.send_signal(signal.SIGTERM)
                answers = await asyncio.gather(*asked)
            for r in answers:
                assert r.status_code == 200 and "errors" not in r.json(), r.text
                assert len(r.json()["data"]["dukcapil"]["penduduk"]["nodes"]) == 3
            assert hub.process.wait(30) == 0, hub.printed()
            assert not alive(workers)
        verified = await run_hub("audit", "verify", cwd=tmp_path, env=env)
        assert verified.code == 0 and "4 records" in verified.stdout + verified.stderr, verified.stdout


QUICK = "query { dukcapil { penduduk(first: 3) { nodes { nik } } } }"


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_with_a_drain_sigterm_first_takes_the_hub_out_of_readiness_then_stops(
    tmp_path: Path, workers: str
) -> None:
    """HUB_DRAIN_SECONDS=3: after SIGTERM /readyz answers 503 `draining` while queries
    are still answered (and audited); the hub exits once the 3 s have passed."""
    async with slow_regency(tmp_path, PEOPLE, RECIPIENTS, 0, SHARED) as (env, key):
        args = (*serve_args(tmp_path)[:-4], "--workers", workers, "--port", "0")
        log = tmp_path / "serve.log"
        with running_hub(*args, cwd=tmp_path, env=env | {"HUB_DRAIN_SECONDS": "3"}, log=log) as hub:
            if workers == "2":
                await wait_for_workers(hub, 2)
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=30) as c:
                assert (await c.get(hub.base + "/readyz")).status_code == 200
                hub.process.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                ready = await c.get(hub.base + "/readyz")
                while ready.status_code == 200:  # the signal reaches the workers through the parent
                    assert time.monotonic() - signalled < 2, hub.printed()
                    ready = await c.get(hub.base + "/readyz")
                assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
                answered = 0
                while time.monotonic() - signalled < 1.5:  # new connections too, all drain long
                    async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}) as fresh:
                        r = await fresh.post(hub.base + "/graphql", json={"query": QUICK})
                    assert (
                        r.status_code == 200 and len(r.json()["data"]["dukcapil"]["penduduk"]["nodes"]) == 3
                    )
                    answered += 1
            assert hub.process.poll() is None, hub.printed()
            hub.process.wait(30)
            assert time.monotonic() - signalled >= 3, hub.printed()
        verified = await run_hub("audit", "verify", cwd=tmp_path, env=env)
        assert verified.code == 0, verified.stdout + verified.stderr
        assert f"{answered} records" in verified.stdout + verified.stderr, verified.stdout + verified.stderr


async def test_a_second_sigterm_ends_the_drain_at_once(tmp_path: Path) -> None:
    async with slow_regency(tmp_path, PEOPLE, RECIPIENTS, 0, SHARED) as (env, _key):
        args = (*serve_args(tmp_path)[:-4], "--port", "0")
        log = tmp_path / "serve.log"
        with running_hub(*args, cwd=tmp_path, env=env | {"HUB_DRAIN_SECONDS": "120"}, log=log) as hub:
            hub.process.send_signal(signal.SIGTERM)
            async with httpx.AsyncClient() as c:
                deadline = time.monotonic() + 10
                while (await c.get(hub.base + "/readyz")).status_code == 200:
                    assert time.monotonic() < deadline, hub.printed()
            hub.process.send_signal(signal.SIGTERM)
            again = time.monotonic()
            hub.process.wait(30)
            assert time.monotonic() - again < 10, hub.printed()


async def test_metrics_from_whichever_worker_answers_count_every_worker(tmp_path: Path) -> None:
    """Each worker counts into files in one directory and whichever answers `/metrics`
    reports them all (hub/metrics.py); before, each scrape showed the answering worker's
    counts alone. A killed worker's counts stay in the sums; its cache sizes leave them."""
    async with slow_regency(tmp_path, PEOPLE, RECIPIENTS, 0, SHARED) as (env, key):
        tmpdir = tmp_path / "tmp"  # where `hub serve` makes its directory of counts
        tmpdir.mkdir()
        orphaned = _left_behind(tmpdir, _a_dead_pid())  # its parent was SIGKILLed: removed
        running = _left_behind(tmpdir, os.getpid())  # another hub's, still running: kept
        log = tmp_path / "serve.log"
        with running_hub(
            *serve_args(tmp_path), cwd=tmp_path, env=env | {"TMPDIR": str(tmpdir)}, log=log
        ) as hub:
            workers = await wait_for_workers(hub, 2)
            (counts,) = tmpdir.glob(f"opd-hub-metrics-{hub.process.pid}-*")
            assert not orphaned.exists() and (running / "counter_1.db").exists()
            asked = 40
            for _ in range(asked):  # each on a new connection: the kernel deals them to both workers
                async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}) as c:
                    r = await c.post(hub.base + "/graphql", json={"query": QUICK})
                assert r.status_code == 200 and "errors" not in r.json(), r.text
            own = {pid: _own_counts(counts, pid) for pid in workers}
            answered = {pid: own[pid].get(("hub_requests_total", "/graphql"), 0) for pid in workers}
            assert sum(answered.values()) == asked and all(answered.values()), answered
            for _ in range(8):  # each scrape on a new connection too: any worker answers
                scraped = await _scrape(hub)
                assert scraped[("hub_requests_total", "/graphql")] == asked
                assert scraped[("hub_request_seconds_count", "/graphql")] == asked
                kept = sum(own[pid][("hub_document_cache_entries", "main")] for pid in workers)
                assert scraped[("hub_document_cache_entries", "main")] == kept >= 1

            victim = next(pid for pid in workers if own[pid][("hub_document_cache_entries", "main")])
            os.kill(victim, signal.SIGKILL)
            now = await wait_for_workers(hub, 2, without=victim)
            scraped = await _scrape(hub)
            assert scraped[("hub_requests_total", "/graphql")] == asked  # the victim's counts stay
            assert not list(counts.glob(f"*_{victim}.db"))  # folded into one set (hub/metrics_files.py)
            living = sum(
                _own_counts(counts, pid).get(("hub_document_cache_entries", "main"), 0) for pid in now
            )
            assert scraped[("hub_document_cache_entries", "main")] == living < kept  # its sizes went
        assert hub.process.returncode is not None and not counts.exists()  # removed when the hub stops


def _left_behind(tmpdir: Path, parent: int) -> Path:
    """A directory of counts as a run of `parent`'s would have left it."""
    left = tmpdir / f"opd-hub-metrics-{parent}-x1y2"
    left.mkdir()
    (left / "counter_1.db").write_bytes(b"")
    return left


def _a_dead_pid() -> int:
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


async def _scrape(hub: Running) -> dict[tuple[str, str], float]:
    async with httpx.AsyncClient() as c:
        r = await c.get(hub.base + "/metrics")
    assert r.status_code == 200, r.text
    return _samples(text_string_to_metric_families(r.text))


def _own_counts(counts: Path, pid: int) -> dict[tuple[str, str], float]:
    """What worker `pid` alone has counted, read from its own files."""
    files = [str(f) for f in counts.glob(f"*_{pid}.db")]
    return _samples(MultiProcessCollector.merge(files))


def _samples(families: Iterable[Metric]) -> dict[tuple[str, str], float]:
    """Every sample labelled by route (HTTP requests) or by schema (the main schema's
    document cache), by its name and that label."""
    found: dict[tuple[str, str], float] = {}
    for family in families:
        for s in family.samples:
            label = s.labels.get("route") or (
                s.labels.get("schema") if s.labels.get("cache") == "documents" else None
            )
            if label is not None and s.labels.get("status", "200") == "200":
                found[(s.name, label)] = found.get((s.name, label), 0) + s.value
    return found
