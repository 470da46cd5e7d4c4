"""What a second worker buys: W1 against `hub serve --workers 2` and against one process,
side by side in one run. Target: 2 workers >= 1.6x one (throughput).

    .venv/bin/python bench/workers.py [--rows 100000] [--recipients 20000] [--duration 6]
        [--warmup 1] [--rounds 5] [--concurrency 16] [--settle 5] [--json PATH]

Both are deployed as `hub serve` runs in production with more than one process: a
PostgreSQL store of their own (`hub_workers_one`, `hub_workers_two`, dropped and created
at the start), the real policy and audit log, `HUB_CURSOR_SECRET`, `HUB_AUDIT_KEY` and
`HUB_DISCLOSURE_KEY` set, rate limits off (a benchmark is one client). "one" is `hub
serve` (a single process, the fastest way to serve with one core); "two" is `hub serve
--workers 2` (uvicorn's supervisor and two spawned workers on one socket). The caller is
`opd:dinsos` reading 100 of Dukcapil's residents (W1 of read_bench.py): confidential
fields, so every answer waits for its durable record in the shared audit chain.

Before measuring, each server answers every body with the same rows and then takes
`--settle` seconds of unmeasured load (the second worker has started by then: a
worker serves only once its hub has started, and the report shows each worker's share
of the CPU). Each round measures both (the starting one alternates); the ratio is the
median of the rounds' ratios. Afterwards each store holds exactly one audit record per
answered request and `hub audit verify` passes on both.

On the 2-CPU machine the benchmark was written for, the hub's processes share the two
cores with PostgreSQL (the source and the audit store) and the load generator, so the
report gives the machine's busy share per run: a second worker can only use the CPU
those leave it. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from children import Children, cpu_seconds, tail, terminate_as_exit
from overhead import check, check_load_options
from read_bench import OK_PREFIX, load_average, load_data, machine
from servers import BENCH, DATABASE, SERVER, Server, fresh_database, hub_command, start_hub
from synthetic import kecamatan_in
from workloads import read_workload

SHARED = {
    "HUB_CURSOR_SECRET": "bench-cursor-secret",
    "HUB_AUDIT_KEY": "bench-audit-key",
    "HUB_DISCLOSURE_KEY": "bench-disclosure-key",
}
TARGETS = {"one": (), "two": ("--workers", "2")}  # name -> `hub serve` arguments
TARGET_RATIO = 1.6


@dataclass(frozen=True)
class Target:
    server: Server
    dir: Path
    env: dict[str, str]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rows", type=int, default=100_000, help="synthetic residents (default 100000)")
    p.add_argument("--recipients", type=int, default=20_000, help="synthetic recipients (default 20000)")
    p.add_argument("--duration", type=float, default=6.0, help="measured seconds per run (default 6)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    p.add_argument("--rounds", type=int, default=5, help="rounds over both servers (default 5)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent client connections (default 16)")
    p.add_argument("--settle", type=float, default=5.0, help="unmeasured load per server first (default 5)")
    p.add_argument("--json", type=Path, help="also write the figures as JSON to this path")
    return check_load_options(p, p.parse_args(argv))


# --- the servers -------------------------------------------------------------------


def start(kids: Children, tmp: Path, name: str) -> Target:
    env = {"HUB_DATABASE_URL": asyncio.run(fresh_database(f"hub_workers_{name}")), **SHARED}
    server = start_hub(kids, tmp / name, name, env, TARGETS[name])
    return Target(server, tmp / name, env)


def workers_of(pid: int) -> list[int]:
    """The processes serving for `pid`: itself when it has no workers, else its spawned
    workers (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
    return workers or [pid]


# --- measuring ---------------------------------------------------------------------


def postgres_cpu() -> float:
    """CPU seconds so far of every PostgreSQL server process (the sources and the stores),
    each counted alone (the postmaster's descendants are the other processes)."""
    ticks = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):  # gone meanwhile
            if comm.read_text().strip() == "postgres":
                fields = (comm.parent / "stat").read_text().rpartition(")")[2].split()
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def busy() -> tuple[float, float]:
    """The machine's busy and total CPU time so far, in clock ticks (/proc/stat)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def measure(
    kids: Children, t: Target, bodies: list[str], args: argparse.Namespace, duration: float
) -> dict[str, Any]:
    spec = {
        "url": t.server.url, "headers": t.server.headers, "bodies": bodies, "concurrency": args.concurrency,
        "warmup": args.warmup, "duration": duration, "ok_prefix": OK_PREFIX,
    }  # fmt: skip
    workers = workers_of(t.server.pid)
    proc = kids.start("loadgen", [sys.executable, str(BENCH / "loadgen.py")], stdin=subprocess.PIPE)
    before = [cpu_seconds(w) for w in workers], cpu_seconds(t.server.pid), busy(), postgres_cpu()
    out, err = kids.communicate(proc, json.dumps(spec).encode(), timeout=args.warmup + duration + 90)
    after = [cpu_seconds(w) for w in workers], cpu_seconds(t.server.pid), busy(), postgres_cpu()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(out)
    if result["errors"]:
        raise RuntimeError(
            f"{t.server.name}: {result['errors']} failed requests; the first: {result['first_error']}"
        )
    answered = result["answered"]
    worker_cpu = [b - a for a, b in zip(before[0], after[0], strict=True)]
    result["server_cpu_ms_per_req"] = (after[1] - before[1]) * 1000 / answered if answered else 0.0
    result["postgres_cpu_ms_per_req"] = (after[3] - before[3]) * 1000 / answered if answered else 0.0
    result["worker_cpu_share"] = [c / sum(worker_cpu) if sum(worker_cpu) else 0.0 for c in worker_cpu]
    result["machine_busy"] = (after[2][0] - before[2][0]) / max(after[2][1] - before[2][1], 1.0)
    return result


def run_rounds(
    kids: Children, targets: dict[str, Target], bodies: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    runs, order = [], list(TARGETS)
    for n in range(1, args.rounds + 1):
        for name in order if n % 2 else order[::-1]:
            r = measure(kids, targets[name], bodies, args, args.duration)
            runs.append({"round": n, "target": name} | r)
            shares = "/".join(f"{s:.0%}" for s in r["worker_cpu_share"])
            print(
                f"  round {n} {name:<4} {r['throughput']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
                f"  p99 {r['p99_ms']:7.2f} ms  server cpu {r['server_cpu_ms_per_req']:5.2f} ms/req"
                f"  postgres {r['postgres_cpu_ms_per_req']:5.2f} ms/req"
                f"  workers' cpu {shares:<9}  machine busy {r['machine_busy']:4.0%}"
                f"  client cpu {r['client_cpu']:4.0%}",
                flush=True,
            )
    return runs


def audit_verified(t: Target) -> int:
    """Records in the target's audit chain, after `hub audit verify` passed on it."""
    done = subprocess.run(
        [hub_command(), "audit", "verify"], env={**t.env, "PATH": str(Path(sys.executable).parent)},
        capture_output=True, text=True, timeout=600, check=False, cwd=t.dir,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"hub audit verify failed for {t.server.name}:\n{done.stdout}{done.stderr}")
    return asyncio.run(_records(t.env["HUB_DATABASE_URL"].replace("+asyncpg", "")))


async def _records(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM audit_log")
        return count
    finally:
        await conn.close()


def benchmark(
    bodies: list[str], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]]]:
    """Start both, check, settle, measure, stop them; (records, answers) per target."""
    with Children() as kids, tempfile.TemporaryDirectory(prefix="hub-workers-") as name:
        tmp = Path(name)
        try:
            targets = {n: start(kids, tmp, n) for n in TARGETS}
            check([t.server for t in targets.values()], bodies)
            answered = {n: len(bodies) for n in targets}
            for n, t in targets.items():
                settled = measure(kids, t, bodies, args, args.settle)
                answered[n] += settled["answered"]
                print(f"settle: {n} {settled['throughput']:.0f} req/s over {args.settle:g} s (not counted)")
            runs = run_rounds(kids, targets, bodies, args)
            for n, t in targets.items():
                answered[n] += sum(r["answered"] for r in runs if r["target"] == n)
                kids.stop(kids.running[t.server.pid][1], grace=30)  # SIGTERM: requests drain first
            return runs, {n: (audit_verified(t), answered[n]) for n, t in targets.items()}
        except Exception:
            for n in TARGETS:
                if (tmp / n / f"{n}.log").exists():
                    print(f"--- {n} log (tail) ---\n{tail(tmp / n / f'{n}.log')}", file=sys.stderr)
            raise


# --- the report --------------------------------------------------------------------


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["round"], r["target"]): r for r in runs}
    rounds = sorted({r["round"] for r in runs})
    ratios = [by[n, "two"]["throughput"] / by[n, "one"]["throughput"] for n in rounds]
    metrics = (
        "throughput", "p50_ms", "p99_ms", "server_cpu_ms_per_req", "postgres_cpu_ms_per_req",
        "machine_busy", "client_cpu",
    )  # fmt: skip
    medians = {
        t: {m: statistics.median(r[m] for r in runs if r["target"] == t) for m in metrics} for t in TARGETS
    }
    ratio = statistics.median(ratios)
    # Whatever the number of workers, the machine does at most 1/busy of what it does while
    # one worker keeps it `busy` (each request costs the same CPU of hub, PostgreSQL, client).
    ceiling = statistics.median(1 / by[n, "one"]["machine_busy"] for n in rounds)
    return {
        "medians": medians,
        "ratio": ratio,
        "ratios": ratios,
        "met": ratio >= TARGET_RATIO,
        "ceiling": ceiling,
    }


def header(args: argparse.Namespace, info: dict[str, Any], command: str, date: str) -> str:
    return "\n".join(
        [
            f"date:    {date}",
            f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']} ({info['platform']})",
            f"command: {command}",
            f"load:    {info['load_at_start']} (1/5/15-min load average at start)",
            f"runs:    {args.rounds} rounds x (one, two), {args.duration:g} s each after {args.warmup:g} s "
            f"warm-up, {args.concurrency} concurrent clients, PostgreSQL stores, "
            "W1 (100 rows x 7) as opd:dinsos",
        ]
    )


def print_report(
    summary: dict[str, Any], audit: dict[str, tuple[int, int]], args: argparse.Namespace
) -> None:
    print(f"\nmedians over {args.rounds} rounds:\n")
    print(
        f"  {'server':<6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'hub CPU ms/req':>15}"
        f" {'PostgreSQL CPU ms/req':>22} {'machine busy':>13}"
    )
    for t, m in summary["medians"].items():
        print(
            f"  {t:<6} {m['throughput']:8.1f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f}"
            f" {m['server_cpu_ms_per_req']:15.2f} {m['postgres_cpu_ms_per_req']:22.2f}"
            f" {m['machine_busy']:13.0%}"
        )
    rounds = " ".join(f"{x:.2f}" for x in summary["ratios"])
    met = "met" if summary["met"] else "NOT met"
    print(
        f"\n2 workers / 1, throughput: {summary['ratio']:.2f} (target >= {TARGET_RATIO}: {met})"
        f"  rounds: {rounds}"
    )
    busy = summary["medians"]["one"]["machine_busy"]
    print(
        f"ceiling on this machine: one worker keeps it {busy:.0%} busy (hub, PostgreSQL, client and"
        f" the rest), so no number of workers can do more than {summary['ceiling']:.2f}x one"
    )
    text = ", ".join(
        f"{t} {records:,} records / {answers:,} answers" for t, (records, answers) in audit.items()
    )
    print(f"audit chains verified: {text}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    info = machine()
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = header(args, info, command, date)
    print(head, flush=True)
    started = time.monotonic()
    with terminate_as_exit():
        try:
            asyncio.run(load_data(args))
            kecamatan = asyncio.run(kecamatan_in(f"{SERVER}/{DATABASE}"))
            bodies = read_workload("W1", 100, kecamatan, postgraphile=False).bodies["hub"]
            runs, audit = benchmark(bodies, args)
            for t, (records, answers) in audit.items():
                if records != answers:
                    raise RuntimeError(f"{t}: {records} audit records for {answers} answers")
        except RuntimeError as e:
            print(f"\nFAILED: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; child processes stopped", file=sys.stderr)
            return 130
    summary = summarise(runs)
    wall = time.monotonic() - started
    print(f"\n{head}\nload at end: {load_average()}\nwall time: {wall // 60:.0f} min {wall % 60:.0f} s")
    print_report(summary, audit, args)
    if args.json:
        figures = {"date": date, "machine": info, "command": command, "runs": runs, "audit": audit} | summary
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
