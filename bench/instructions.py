"""What one request costs in CPU instructions, counted by valgrind's callgrind: a
figure that does not drift with the machine's speed, for changes too small for
`ab.py` to tell on a shared 2-CPU machine.

    .venv/bin/python bench/instructions.py [REV ...] [--variants full,no-audit]
        [--workload W1|W4] [--requests 200] [--warmup 30] [--store sqlite|postgresql]

Each REV (default `.`, the working tree) is a git revision served from a temporary
worktree, as in `ab.py`. For every revision and every variant (`overhead_server.py`:
full, allow-all, no-audit) one server process runs under callgrind with counting off.
Once all are ready and give the same rows, each in turn gets `--warmup` requests, then
counting is switched on for `--requests` requests sent one after another on one
keep-alive connection, and off again. The report gives instructions per request, the
ratio to the first row, and where they went by shared object (the interpreter, orjson,
asyncpg, SQLite, ...).

What it does not count: the kernel's work (system calls: the socket writes, SQLite's
`pwrite` and `fdatasync`), waiting, and whatever one request at a time does not
show: requests are sequential, so every audit batch holds one entry, where under
load it holds several. Two runs of the same revision agree to within ~0.3%
(bench/README.md). Needs valgrind and callgrind_control (Debian: `apt install valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ab import checkout, git, workload_bodies
from children import Children, tail, terminate_as_exit
from overhead import VARIANTS, Variant, check, launch, ready
from read_bench import machine
from servers import DATABASE, SERVER
from synthetic import ensure_loaded

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 300.0  # s: start-up under valgrind is ~10x slower


@dataclass
class Counted:
    label: str
    per_request: float
    by_object: dict[str, float]  # shared object -> instructions per request


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("revs", metavar="REV", nargs="*", default=["."], help="git revisions, or . (default)")
    p.add_argument(
        "--variants", default="full",
        help=f"comma-separated, of {', '.join(VARIANTS)} (default full: policy and audit on)",
    )  # fmt: skip
    p.add_argument("--workload", choices=("W1", "W4"), default="W1", help="the requests (default W1)")
    p.add_argument("--requests", type=int, default=200, help="counted requests per server (default 200)")
    p.add_argument("--warmup", type=int, default=30, help="uncounted requests first (default 30)")
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite", help="the hub store")
    p.add_argument("--rows", type=int, default=100_000, help="synthetic residents (default 100000)")
    args = p.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in args.variants:
        if v not in VARIANTS:
            p.error(f"--variants: {v!r} is not one of {', '.join(VARIANTS)}")
    if args.requests < 1 or args.warmup < 0:
        p.error("--requests must be at least 1 and --warmup at least 0")
    if len(set(args.revs)) != len(args.revs):
        p.error("each revision once")
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            p.error(f"{tool} not found: install valgrind (Debian: apt install valgrind)")
    return args


def valgrind(where: Path) -> list[str]:
    """The wrapper: callgrind, counting nothing until told, its dumps into `where`."""
    out = f"--callgrind-out-file={where / 'callgrind.out'}"
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", out]


def callgrind(pid: int, *args: str) -> None:
    done = subprocess.run(["callgrind_control", *args, str(pid)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"callgrind_control {' '.join(args)} {pid}: {done.stderr.strip() or done.stdout}")


def count(v: Variant, bodies: list[str], args: argparse.Namespace) -> Counted:
    assert v.server is not None
    headers = {**v.server.headers, "content-type": "application/json"}
    with httpx.Client(timeout=120) as client:

        def send(n: int) -> None:
            for i in range(n):
                answer = client.post(v.server.url, content=bodies[i % len(bodies)], headers=headers)
                if answer.status_code != 200 or b'"errors"' in answer.content:
                    raise RuntimeError(f"hub {v.name}: HTTP {answer.status_code}: {answer.text[:300]}")

        send(args.warmup)
        before = set(v.dir.glob("callgrind.out.*"))
        callgrind(v.proc.pid, "--instr=on")
        send(args.requests)
        callgrind(v.proc.pid, "--instr=off")
        callgrind(v.proc.pid, "--dump")
    (dump,) = set(v.dir.glob("callgrind.out.*")) - before
    return Counted(v.name, *by_object(dump, args.requests))


_LINE = re.compile(r"^\s*([\d,]+)\s.*\[(.+)\]\s*$")


def by_object(dump: Path, requests: int) -> tuple[float, dict[str, float]]:
    """Instructions per request in all, and by shared object, from a callgrind dump."""
    totals = re.search(r"^totals:\s*(\d+)", dump.read_text(), re.MULTILINE)
    if totals is None:
        raise RuntimeError(f"{dump}: no totals line")
    shown = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    objects: dict[str, float] = defaultdict(float)
    for line in shown.splitlines():
        if m := _LINE.match(line):
            objects[short(m.group(2))] += int(m.group(1).replace(",", "")) / requests
    return int(totals.group(1)) / requests, dict(objects)


def short(path: str) -> str:
    name = Path(path).name
    return re.sub(r"\.cpython-.*\.so$|\.so[.\d]*$", "", name)


def report(rows: list[Counted]) -> None:
    first = rows[0].per_request
    width = max(len(r.label) for r in rows)
    print(f"\n  {'server':<{width}}  {'instructions/request':>20}  {'/ first':>7}")
    for r in rows:
        print(f"  {r.label:<{width}}  {r.per_request:20,.0f}  {r.per_request / first:7.3f}")

    def most(o: str) -> float:
        return max(r.by_object.get(o, 0) for r in rows)

    objects = sorted({o for r in rows for o in r.by_object}, key=most, reverse=True)
    print("\nby shared object, thousands of instructions per request:\n")
    print("  " + f"{'object':<22}" + "".join(f"{r.label[-16:]:>18}" for r in rows))
    for o in objects:
        if most(o) < 1000:
            continue
        print("  " + f"{o[:22]:<22}" + "".join(f"{r.by_object.get(o, 0) / 1000:18.1f}" for r in rows))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    print(f"date:    {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']} ({info['platform']})")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"counted: {args.requests} requests after {args.warmup}, one at a time, {args.store} store")
    started = time.monotonic()
    with terminate_as_exit(), tempfile.TemporaryDirectory(prefix="hub-cg-") as name, Children() as kids:
        tmp = Path(name)
        trees: dict[str, Path] = {}
        servers: list[Variant] = []
        try:
            for i, rev in enumerate(args.revs):
                trees[rev], label = checkout(rev, tmp / f"tree-{i}")
                print(f"rev {i}:   {label}", flush=True)
            asyncio.run(ensure_loaded(SERVER, DATABASE, args.rows))
            bodies = asyncio.run(workload_bodies(args.workload))
            for i, rev in enumerate(args.revs):
                for v in args.variants:
                    where = tmp / f"cg-{i}-{v}"
                    label = f"{rev} {v}"
                    servers.append(launch(kids, where, label, v, args.store, trees[rev], valgrind(where)))
            print(f"starting {len(servers)} server(s) under callgrind ...", flush=True)
            servers = [ready(v, START_TIMEOUT) for v in servers]
            check([v.server for v in servers if v.server is not None], bodies)
            rows = []
            for v in servers:
                rows.append(count(v, bodies, args))
                print(f"  {v.name}: {rows[-1].per_request:,.0f} instructions/request", flush=True)
        except RuntimeError as e:
            for v in servers:
                print(f"--- hub {v.name} log (tail) ---\n{tail(v.log)}", file=sys.stderr)
            print(f"instructions: {e}", file=sys.stderr)
            return 1
        finally:
            for v in servers:
                kids.stop(v.proc, grace=60)
            for tree in trees.values():
                if tree != REPO:
                    git("worktree", "remove", "--force", str(tree))
    report(rows)
    print(f"\nwall time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
