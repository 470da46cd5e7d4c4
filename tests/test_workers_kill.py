"""A worker killed mid-request under load loses no audit record: two workers serve eight
clients reading confidential fields from a source that takes 0.2 s a statement; one
worker is killed with SIGKILL while it holds requests; the supervisor starts another and
the load goes on. Every answer a client received that released data has its record in
the chain (by request id), the chain verifies, and the records no client received are
at most the requests whose connection the kill broke (audited, then never sent)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.hubcli import Running, run_hub, running_hub
from tests.support.regency import make_rows
from tests.support.workers import connections, serve_args, slow_regency, wait_for_workers

REPO = Path(__file__).resolve().parents[1]  # on the served hub's PYTHONPATH: this checkout's code
PEOPLE, RECIPIENTS = make_rows(residents=60)
SHARED = {"HUB_CURSOR_SECRET": "kill-cursor", "HUB_AUDIT_KEY": "kill-audit", "HUB_DISCLOSURE_KEY": "d"}
READ = "query { dukcapil { penduduk(first: 5) { nodes { nik nama } } } }"  # confidential: audited
CLIENTS = 8


@dataclass
class Load:
    """What the clients saw: request ids of answers that released data, and broken connections."""

    released: list[str] = field(default_factory=list)
    dropped: int = 0
    other: list[str] = field(default_factory=list)  # anything else: must stay empty
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def client(self, hub: Running, key: str) -> None:
        headers = {"authorization": f"Bearer {key}"}
        while not self.stop.is_set():
            async with httpx.AsyncClient(headers=headers, timeout=30) as c:  # a new connection: any worker
                try:
                    r = await c.post(hub.base + "/graphql", json={"query": READ})
                except httpx.TransportError:  # the worker died with the request
                    self.dropped += 1
                    continue
            body = r.json()
            if (
                r.status_code == 200
                and "errors" not in body
                and len(body["data"]["dukcapil"]["penduduk"]["nodes"]) == 5
            ):
                self.released.append(r.headers["x-request-id"])
            else:
                self.other.append(f"{r.status_code} {r.text[:300]}")

    async def until_released(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.released) < count:
            assert time.monotonic() < deadline, f"only {len(self.released)} answers in 60 s: {self.other[:3]}"
            await asyncio.sleep(0.05)


async def test_a_worker_killed_under_load_leaves_every_released_answer_audited(tmp_path: Path) -> None:
    async with slow_regency(tmp_path, PEOPLE, RECIPIENTS, 0.2, SHARED) as (env, key):  # requests overlap
        with running_hub(*serve_args(tmp_path), cwd=tmp_path, env=env, log=tmp_path / "serve.log") as hub:
            first = await wait_for_workers(hub, 2)
            port = int(hub.base.rsplit(":", 1)[1])
            load = Load()
            clients = [asyncio.create_task(load.client(hub, key)) for _ in range(CLIENTS)]
            await load.until_released(40)

            victim = await _holding_requests(first, port)
            os.kill(victim, signal.SIGKILL)
            killed_at = len(load.released)
            await wait_for_workers(hub, 2, without=victim)
            await load.until_released(killed_at + 40)  # served on by the survivor and the new one
            load.stop.set()
            await asyncio.gather(*clients)

        assert hub.process.returncode is not None
        assert load.other == []
        assert load.dropped >= 1, "the kill broke no request: it did not come mid-request"
        records = await _audited(env["HUB_DATABASE_URL"])
        assert set(load.released) <= set(records), "an answer left without its audit record"
        assert len(records) == len(set(records))
        assert len(records) - len(load.released) <= load.dropped  # audited, then lost with the worker
        verified = await run_hub("audit", "verify", cwd=tmp_path, env=env)
        assert verified.code == 0, verified.stdout + verified.stderr
        assert f"{len(records)} records" in verified.stdout + verified.stderr


async def _holding_requests(workers: set[int], port: int) -> int:
    """A worker with at least two connections open (each a request waiting on the source)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid in sorted(workers):
            if connections(pid, port) >= 2:
                return pid
        await asyncio.sleep(0.01)
    raise AssertionError("no worker held two requests at once")


async def _audited(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT request_id, subject FROM audit_log"))
            found = rows.all()
    finally:
        await engine.dispose()
    assert {subject for _, subject in found} == {"user:tester"}
    return [request_id for request_id, _ in found]
