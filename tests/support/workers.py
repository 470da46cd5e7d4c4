"""Watching `hub serve --workers N` from outside: its worker processes, whether they are
alive, and the connections each holds.

Example:
    >>> first = await wait_for_workers(hub, 2)
    >>> victim = next(iter(first)); connections(victim, port)  # established, to the hub's port
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.catalogs import penduduk
from tests.support.databases import ScratchDatabase
from tests.support.hubcli import Running, hub_env, run_hub
from tests.support.regency import load_regency, write_policies

REPO = Path(__file__).resolve().parents[2]  # on the served hub's PYTHONPATH: this checkout's code


def workers_of(pid: int) -> set[int]:
    """The worker processes of a `hub serve --workers` parent (its spawned children)."""
    found = set()
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            found.add(int(child))
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


async def wait_for_workers(hub: Running, count: int, without: int | None = None) -> set[int]:
    """The `count` workers, once there are that many (none of them `without`) and the port answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = workers_of(hub.process.pid)
        if len(found) == count and without not in found and await _answers(hub):
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"{count} workers did not come up:\n{hub.printed()}")


async def _answers(hub: Running) -> bool:
    async with httpx.AsyncClient() as c:
        try:
            return (await c.get(hub.base + "/healthz", timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False


ESTABLISHED, LISTEN = "01", "0A"


def connections(pid: int, port: int, state: str = ESTABLISHED) -> int:
    """TCP sockets process `pid` holds in `state` (connections established, by default, or
    LISTEN) on local `port` (IPv4)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def waiting(port: int) -> int:
    """Connections to local `port` that the kernel has established and no process has
    accepted yet (no socket inode)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == ESTABLISHED and fields[9] == "0":
            count += 1
    return count


@asynccontextmanager
async def slow_regency(
    tmp: Path, people: list[dict[str, Any]], recipients: list[dict[str, Any]], seconds: float,
    shared: dict[str, str],
) -> AsyncIterator[tuple[dict[str, str], str]]:  # fmt: skip
    """The regency on PostgreSQL, its residents read through a view on which every statement
    first sleeps `seconds` (requests that stay in flight that long), a PostgreSQL store, the
    policies (user:tester may do everything) in `tmp`: the environment for `hub serve`
    (with `shared`, this checkout's code) and user:tester's key. Dropped afterwards."""
    databases = await load_regency(
        tmp, people, recipients, kind="postgresql", residents=penduduk(table="lambat")
    )
    store = await ScratchDatabase("postgresql", tmp).create()
    try:
        engine = create_async_engine(databases[0].url)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(f"CREATE VIEW lambat AS SELECT p.* FROM penduduk p, (SELECT pg_sleep({seconds})) s")
            )
        await engine.dispose()
        write_policies(tmp / "policies")
        env = hub_env(HUB_DATABASE_URL=store.url, PYTHONPATH=str(REPO), **shared)
        created = await run_hub("clients", "create", "user:tester", cwd=tmp, env=env)
        assert created.code == 0, created.stderr
        yield env, created.stdout.strip().splitlines()[-1]
    finally:
        await store.drop()
        for db in databases:
            await db.drop()


def serve_args(tmp: Path) -> tuple[str, ...]:
    """`hub serve` on the catalog and policies in `tmp`, any free port, two workers."""
    return (
        "serve",
        "--schema",
        str(tmp / "schema"),
        "--policies",
        str(tmp / "policies"),
        "--workers",
        "2",
        "--port",
        "0",
    )
