"""Child processes that never outlive the benchmark.

Each child runs in its own session (a Ctrl-C in the terminal reaches only the
benchmark, which then stops the children in order) and asks the kernel for SIGTERM
when its parent dies, so even a killed benchmark leaves nothing behind (Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

PR_SET_PDEATHSIG = 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Children:
    """Starts processes and stops every one still running on exit, whatever the exit."""

    def __init__(self) -> None:
        self.running: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        stdin: int | None = None,
    ) -> subprocess.Popen[bytes]:
        out: IO[bytes] | int = log.open("ab") if log else subprocess.PIPE
        proc = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            stdin=stdin,
            stdout=out,
            stderr=out if log else subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.running[proc.pid] = (name, proc)
        return proc

    def communicate(self, proc: subprocess.Popen[bytes], data: bytes, timeout: float) -> tuple[bytes, bytes]:
        """Feed `data` to a short-lived child and collect its output (killed on timeout)."""
        try:
            out, err = proc.communicate(data, timeout=timeout)
        finally:
            self.stop(proc)
        return out, err

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        self.running.pop(proc.pid, None)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for _name, proc in reversed(list(self.running.values())):
            self.stop(proc)

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit and SIGINT into KeyboardInterrupt (even when the
    shell started us ignoring it), so `finally` blocks and context managers run."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous_term = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(
    name: str, proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path, post: bytes | None = None
) -> None:
    """Poll `url` (GET, or POST `post` as JSON) until it answers 200; fail with the log's
    tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if post is None:
                answer = httpx.get(url, timeout=1.0)
            else:
                answer = httpx.post(
                    url, content=post, headers={"content-type": "application/json"}, timeout=1.0
                )
            if answer.status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process (all its threads) and of its live
    descendants (a helper process a server starts works for its requests too)."""
    stats: dict[int, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # gone meanwhile
            stats[int(stat.parent.name)] = stat.read_text().rpartition(")")[2].split()
    family, grew = {pid}, True
    while grew:
        kids = {p for p, fields in stats.items() if int(fields[1]) in family} - family
        family |= kids
        grew = bool(kids)
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in family if p in stats)
    if pid not in stats:
        raise ProcessLookupError(f"no process {pid}")
    return ticks / CLOCK_TICKS
