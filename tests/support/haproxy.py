"""Debian's HAProxy run from the shipped deploy/haproxy.cfg, on loopback ports of the test's
own (its `LB_*` variables), in the foreground (`-db`) until the block ends; skipped when
`haproxy` is not installed, failed under HUB_REQUIRE_SERVICES=1 (CI installs it).

Example:
    >>> with running_haproxy(tmp / "haproxy.log", hub_a=a.base, hub_b=b.base) as proxy:
    ...     await proxy.wait_for({("hub_ready", "a"): "UP", ("hub_ready", "b"): "UP"})
    ...     httpx.get(proxy.base + "/public/")
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.hubcli import stop
from tests.support.proxy import closed_port

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"


def haproxy() -> str:
    """The `haproxy` command; skips (fails under HUB_REQUIRE_SERVICES=1) when it is missing."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found:
        return found
    reason = "haproxy is not installed (apt-get install haproxy)"
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + "; HUB_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


@dataclass(frozen=True)
class Haproxy:
    process: subprocess.Popen[bytes]
    base: str  # where clients reach the hubs
    stats: str  # the stats page
    log: Path

    def printed(self) -> str:
        return self.log.read_text()

    async def states(self) -> dict[tuple[str, str], str]:
        """(backend, server) -> the state HAProxy gives it: UP, DOWN, `UP 1/2` (going down)…"""
        async with httpx.AsyncClient() as c:
            r = await c.get(self.stats + "/;csv", timeout=2)
        rows = csv.DictReader(io.StringIO(r.text.lstrip("# ")))
        return {(row["pxname"], row["svname"]): row["status"] for row in rows}

    async def wait_for(self, wanted: dict[tuple[str, str], str], within: float = 30) -> None:
        """Until every (backend, server) in `wanted` has its state, polling the stats page."""
        deadline = time.monotonic() + within
        while True:
            states = await self.states()
            if all(states.get(server) == state for server, state in wanted.items()):
                return
            assert time.monotonic() < deadline, f"not {wanted} within {within} s: {states}"
            await asyncio.sleep(0.1)


@contextmanager
def running_haproxy(log: Path, *, hub_a: str, hub_b: str, **variables: str) -> Iterator[Haproxy]:
    """HAProxy on deploy/haproxy.cfg with its instances at `hub_a` and `hub_b` (URLs or
    host:port), clients' and stats' ports free ones on 127.0.0.1, and `variables` (LB_*)."""
    command = haproxy()
    bind, stats = f"127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}"
    env = {
        **os.environ,
        "LB_BIND": bind,
        "LB_STATS_BIND": stats,
        "LB_HUB_A": hub_a.removeprefix("http://"),
        "LB_HUB_B": hub_b.removeprefix("http://"),
        **variables,
    }
    with log.open("w") as out:
        process = subprocess.Popen([command, "-f", str(CONFIG), "-db"], env=env, stdout=out, stderr=out)
    try:
        proxy = Haproxy(process, f"http://{bind}", f"http://{stats}", log)
        deadline = time.monotonic() + 10
        while not _answers(proxy.stats + "/;csv"):
            assert process.poll() is None, f"haproxy stopped:\n{proxy.printed()}"
            assert time.monotonic() < deadline, f"haproxy did not start:\n{proxy.printed()}"
            time.sleep(0.05)
        yield proxy
    finally:
        stop(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
