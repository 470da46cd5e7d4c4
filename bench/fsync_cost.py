"""What one durable commit costs this machine: fdatasync of a small write, in a loop,
with the whole machine's CPU time (from /proc/stat) split by kind, per call.

    .venv/bin/python bench/fsync_cost.py [--seconds 3] [--dir DIR]

The audit log's SQLite store makes one fdatasync of its WAL per group commit. On a
virtual machine the flush also costs CPU outside the calling thread (interrupt
handling, time stolen by the host), which no per-process figure shows: this prints
it, next to an idle interval of the same length as the baseline. Linux only.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

KINDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_ticks() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1 : 1 + len(KINDS)]]


def run(seconds: float, where: Path, sync: bool) -> tuple[int, list[int]]:
    before, calls = machine_ticks(), 0
    fd, name = tempfile.mkstemp(dir=where, prefix="fsync-cost-")
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sync:
                os.write(fd, b"x" * 4096)
                os.fdatasync(fd)
                calls += 1
            else:
                time.sleep(0.01)
    finally:
        os.close(fd)
        os.unlink(name)
    return calls, [b - a for a, b in zip(before, machine_ticks(), strict=True)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=3.0, help="length of each interval (default 3)")
    p.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()), help="where to write (default: the temp dir)"
    )
    args = p.parse_args()
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    _, idle = run(args.seconds, args.dir, sync=False)
    calls, busy = run(args.seconds, args.dir, sync=True)
    each = args.seconds * 1000 / calls
    print(f"{calls} fdatasync calls in {args.seconds:g} s on {args.dir}: {each:.3f} ms each")
    print("machine CPU per call, by kind (ms; the idle interval's share subtracted):")
    for kind, b, i in zip(KINDS, busy, idle, strict=True):
        if kind != "idle":
            print(f"  {kind:<8} {(b - i) * tick_ms / calls:.4f}")
    spent = sum(b - i for k, b, i in zip(KINDS, busy, idle, strict=True) if k not in ("idle", "iowait"))
    print(f"  {'total':<8} {spent * tick_ms / calls:.4f}  (not counting idle and iowait)")


if __name__ == "__main__":
    main()
