"""Run the `hub` command as a user would: a separate process, its own environment."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HUB = Path(sys.executable).parent / "hub"


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


def hub_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's HUB_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**env, "COLUMNS": "1000", "NO_COLOR": "1", **extra}


async def run_hub(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    process = await asyncio.create_subprocess_exec(
        str(HUB),
        *args,
        cwd=cwd,
        env=env if env is not None else hub_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


@dataclass(frozen=True)
class Running:
    """A `hub serve` or `hub demo` process that answers /healthz; what it printed is in `log`."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def printed(self) -> str:
        return self.log.read_text()


@contextmanager
def running_hub(
    *args: str, cwd: Path, env: dict[str, str], log: Path, timeout: float = 90, hub: Path = HUB
) -> Iterator[Running]:
    """Run `hub ARGS` (with `--port 0`: it prints the port it took) until the block ends;
    `hub` is the command (another installation's)."""
    with log.open("w") as out:
        process = subprocess.Popen([str(hub), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=out)
        try:
            deadline = time.monotonic() + timeout
            while True:
                printed = log.read_text()
                assert process.poll() is None, printed
                started = re.search(r"^OPD Hub on (http://\S+:\d+)/graphql", printed, re.MULTILINE)
                if started and _answers(f"{started[1]}/healthz"):
                    break
                assert time.monotonic() < deadline, f"hub {args[0]} did not start within {timeout} s"
                time.sleep(0.1)
            yield Running(process, started[1], log)
        finally:
            process.terminate()
            process.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
