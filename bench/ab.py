"""A against B: the same overhead variant served by two revisions of the hub,
interleaved in one run, to tell whether a change to the request path pays on a
machine whose speed drifts by more than the change.

    .venv/bin/python bench/ab.py A B [--variant full|allow-all|no-audit] [--workload W1|W4]
        [--rounds 10] [--duration 6] [--warmup 1] [--concurrency 8] [--store sqlite|postgresql]
        [--rows 100000] [--json PATH]

A and B are git revisions of this repository (`HEAD~1`, a branch, a commit) or `.`
for the working tree as it is, uncommitted changes included. Each revision is
checked out into a temporary worktree and served from there by that revision's own
`bench/overhead_server.py` (one process, uvicorn with uvloop and httptools, its own
store: a SQLite file, or with `--store postgresql` a fresh database named
`hub_overhead_ab_a` / `hub_overhead_ab_b`). The load generator, the request bodies
(W1: 100 residents x 7 fields as `opd:dukcapil`) and the measuring are this
checkout's, as in `overhead.py`. With `--workload W4` the bodies are read_bench's W4
instead: a match of 1,000 records each, the caller matching its own residents.

Both servers are started once and must give the same rows for every body. Then each
round measures both, A first in odd rounds and B first in even ones. The report gives
each side's medians, B over A per round (throughput, and A's CPU per request over
B's: higher is better for B in both), their medians, and in how many rounds B was
ahead. A difference this machine can show is one B wins in most rounds, not one
median against another. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from children import Children, tail, terminate_as_exit
from overhead import VARIANTS, Variant, add_load_options, check, check_load_options, launch, ready
from read_bench import load_average, machine, measure
from servers import DATABASE, SERVER
from synthetic import ensure_loaded, kecamatan_in, people_in
from workloads import match_workload, read_workload

REPO = Path(__file__).resolve().parents[1]
SIDES = ("A", "B")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", metavar="A", help="git revision, or . for the working tree")
    p.add_argument("b", metavar="B", help="git revision, or . for the working tree")
    p.add_argument(
        "--variant", choices=VARIANTS, default="full",
        help="what each side serves (overhead_server.py; default full: policy and audit on)",
    )  # fmt: skip
    p.add_argument(
        "--workload", choices=("W1", "W4"), default="W1",
        help="the requests: W1 (100 residents x 7 fields, default) or W4 (match 1,000 records)",
    )  # fmt: skip
    store_help = "each side's hub store: a SQLite file (default) or a fresh PostgreSQL database"
    add_load_options(p, 10, "rounds over both sides", store_help)
    return check_load_options(p, p.parse_args(argv))


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def checkout(rev: str, where: Path) -> tuple[Path, str]:
    """The directory serving `rev` and a label for it (a worktree at its commit)."""
    if rev == ".":
        dirty = " (uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
        return REPO, f"working tree at {git('rev-parse', '--short', 'HEAD')}{dirty}"
    try:
        commit = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except RuntimeError:
        raise RuntimeError(f"{rev!r} is not a commit of {REPO} (nor `.`, the working tree)") from None
    git("worktree", "add", "--detach", "--force", str(where), commit)
    return where, f"{rev} ({commit[:7]})"


def run_rounds(
    kids: Children, servers: dict[str, Any], bodies: list[str], args: argparse.Namespace
) -> list[Any]:
    runs = []
    for n in range(1, args.rounds + 1):
        for side in SIDES if n % 2 else SIDES[::-1]:
            r = measure(kids, servers[side], bodies, args)
            runs.append({"round": n, "side": side} | r)
            print(
                f"  round {n:2d} {side}  {r['throughput']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
                f"  p99 {r['p99_ms']:7.2f} ms  server cpu {r['server_cpu_ms_per_req']:6.3f} ms/req",
                flush=True,
            )
    return runs


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["round"], r["side"]): r for r in runs}
    rounds = sorted({r["round"] for r in runs})
    speed = [by[n, "B"]["throughput"] / by[n, "A"]["throughput"] for n in rounds]
    cpu = [by[n, "A"]["server_cpu_ms_per_req"] / by[n, "B"]["server_cpu_ms_per_req"] for n in rounds]
    medians = {
        side: {
            m: statistics.median(r[m] for r in runs if r["side"] == side)
            for m in ("throughput", "p50_ms", "p99_ms", "server_cpu_ms_per_req")
        }
        for side in SIDES
    }
    return {
        "medians": medians,
        "throughput_b_over_a": speed,
        "cpu_a_over_b": cpu,
        "throughput_ratio": statistics.median(speed),
        "cpu_ratio": statistics.median(cpu),
        "b_ahead": sum(x > 1 for x in speed),
    }


def report(summary: dict[str, Any], labels: dict[str, str], rounds: int) -> None:
    print(f"\nmedians over {rounds} rounds:\n")
    print(f"  {'side':<5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server CPU ms/req':>18}  revision")
    for side, m in summary["medians"].items():
        print(
            f"  {side:<5} {m['throughput']:8.1f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f}"
            f" {m['server_cpu_ms_per_req']:18.3f}  {labels[side]}"
        )
    speed = " ".join(f"{x:.2f}" for x in summary["throughput_b_over_a"])
    cpu = " ".join(f"{x:.2f}" for x in summary["cpu_a_over_b"])
    print(f"\nB / A throughput (median of the rounds' ratios): {summary['throughput_ratio']:.3f}")
    print(f"  rounds: {speed}")
    print(f"A / B server CPU per request (same):            {summary['cpu_ratio']:.3f}")
    print(f"  rounds: {cpu}")
    print(f"B ahead in {summary['b_ahead']} of {rounds} rounds")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    info = machine()
    print(f"date:    {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']} ({info['platform']})")
    print(f"command: {command}")
    print(f"load:    {load_average()} (1/5/15-min load average at start)", flush=True)
    started = time.monotonic()
    with terminate_as_exit(), tempfile.TemporaryDirectory(prefix="hub-ab-") as name:
        tmp = Path(name)
        trees: dict[str, Path] = {}
        labels: dict[str, str] = {}
        try:
            for side, rev in zip(SIDES, (args.a, args.b), strict=True):
                trees[side], labels[side] = checkout(rev, tmp / f"tree-{side}")
                print(f"{side}:       {labels[side]}", flush=True)
            asyncio.run(ensure_loaded(SERVER, DATABASE, args.rows))
            bodies = asyncio.run(workload_bodies(args.workload))
            runs = serve_and_measure(tmp, trees, bodies, args)
        except RuntimeError as e:
            print(f"ab: {e}", file=sys.stderr)
            return 1
        finally:
            for tree in trees.values():
                if tree != REPO:
                    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                                   capture_output=True, check=False)  # fmt: skip
    summary = summarise(runs)
    report(summary, labels, args.rounds)
    print(f"\nwall time: {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps({"command": command, "labels": labels, "runs": runs} | summary, indent=2)
        )
    return 0


async def workload_bodies(name: str) -> list[str]:
    if name == "W1":
        kecamatan = await kecamatan_in(f"{SERVER}/{DATABASE}")
        return read_workload("W1", 100, kecamatan, postgraphile=False).bodies["hub"]
    people = await people_in(f"{SERVER}/{DATABASE}")
    return match_workload(people).bodies["hub"]


def serve_and_measure(
    tmp: Path, trees: dict[str, Path], bodies: list[str], args: argparse.Namespace
) -> list[Any]:
    with Children() as kids:
        sides: list[Variant] = []
        try:
            sides = [
                launch(kids, tmp / f"ab-{side.lower()}", side, args.variant, args.store, trees[side])
                for side in SIDES
            ]
            sides = [ready(v) for v in sides]
            servers = {v.name: v.server for v in sides}
            check([s for s in servers.values() if s is not None], bodies)
            return run_rounds(kids, servers, bodies, args)
        except Exception:
            for v in sides:
                print(f"--- hub {v.name} log (tail) ---\n{tail(v.log)}", file=sys.stderr)
            raise


if __name__ == "__main__":
    sys.exit(main())
