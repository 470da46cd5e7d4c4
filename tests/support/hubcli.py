"""Run the `hub` command as a user would: a separate process, its own environment.

`run_hub` runs one command to its end; `running_hub` keeps a `hub serve` or `hub demo`
process up for the length of a block, `running_hubs` several. Each takes `hub`, the command of
another installation (tests/test_packaging.py), and `env`, best built by `hub_env`.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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


async def run_hub(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60, hub: Path = HUB
) -> Ran:
    """Run `hub ARGS` to its end; killed if it runs past `timeout` or the caller is cancelled."""
    process = await asyncio.create_subprocess_exec(
        str(hub),
        *args,
        cwd=cwd,
        env=env if env is not None else hub_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
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
    """Run `hub ARGS` (with `--port 0`: it prints the port it took) until the block ends."""
    with running_hubs(*args, cwd=cwd, env=env, logs=[log], timeout=timeout, hub=hub) as (one,):
        yield one


@contextmanager
def running_hubs(
    *args: str,
    cwd: Path,
    env: dict[str, str],
    logs: list[Path],
    timeout: float = 90,
    hub: Path = HUB,
) -> Iterator[list[Running]]:
    """One process of `hub ARGS` (with `--port 0`) per log in `logs`, started together;
    all answer /healthz before the block begins, and are terminated when it ends."""
    with ExitStack() as stack:
        started = [stack.enter_context(_process(hub, args, cwd, env, log)) for log in logs]
        deadline = time.monotonic() + timeout
        bases: list[str | None] = [None] * len(logs)
        while None in bases:
            for i, (process, log) in enumerate(zip(started, logs, strict=True)):
                bases[i] = bases[i] or _answering(process, log)
            if None in bases:
                assert time.monotonic() < deadline, f"hub {args[0]} did not start within {timeout} s"
                time.sleep(0.1)
        yield [Running(p, b, log) for p, b, log in zip(started, bases, logs, strict=True) if b]


@contextmanager
def _process(
    hub: Path, args: tuple[str, ...], cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as out:
        process = subprocess.Popen([str(hub), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=out)
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _answering(process: subprocess.Popen[bytes], log: Path) -> str | None:
    """The base URL the process printed, once it answers /healthz there."""
    printed = log.read_text()
    assert process.poll() is None, printed
    started = re.search(r"OPD Hub on (http://[^\s\"]+:\d+)/graphql", printed)  # a log line, or JSON's message
    return started[1] if started and _answers(f"{started[1]}/healthz") else None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
