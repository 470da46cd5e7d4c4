"""What the policy and the audit log cost: the same hub, the same requests, with each
step switched off in turn, each variant a server process of its own, interleaved in
one run. Targets: policies on / allow-all >= 0.9; audit on / audit off >= 0.85.

    .venv/bin/python bench/overhead.py [--rows 100000] [--duration 6] [--warmup 1] [--rounds 5]
        [--concurrency 8] [--store sqlite|postgresql] [--json PATH]

The caller is Dukcapil's own system reading 100 of its residents (W1 of read_bench:
confidential fields, so every request writes an audit record before it is answered).
Each variant runs as the hub is deployed (`bench/overhead_server.py`: one process,
uvicorn with uvloop and httptools, SQLite store with WAL and full sync) and is driven
over 127.0.0.1 by the read benchmark's load generator (`bench/loadgen.py`, a process
of its own, keep-alive connections). Each variant switches one step off through
`Hub.start`'s parameters, in the benchmark's server process only:

    full        policy and audit as in production
    allow-all   the policy step answers "allowed" for every pair without looking
    no-audit    the audit sink answers at once without writing (the entry is still built)

With `--store postgresql` each variant's store is a fresh database of its own on the
benchmark's PostgreSQL server (`hub_overhead_<variant>`, dropped and created at the
start), as several hub processes would share one in production.

Before measuring, every variant must answer every request body with the same rows.
Each round runs every variant once (the starting variant rotates from round to
round); each ratio is the median over rounds of that round's ratio. After the run
the audited variants' logs must hold exactly one record per answered request.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from children import Children, tail, terminate_as_exit, wait_healthy
from read_bench import OK_PREFIX, load_average, machine, measure
from servers import BENCH, DATABASE, SERVER, Server, fresh_database
from synthetic import ensure_loaded, kecamatan_in
from workloads import read_workload

VARIANTS = ("full", "allow-all", "no-audit")
# (label, numerator, denominator, target): throughput of the first over the second's.
RATIOS: tuple[tuple[str, str, str, float | None], ...] = (
    ("policies on / allow-all", "full", "allow-all", 0.90),
    ("audit on / audit off", "full", "no-audit", 0.85),
)
METRICS = ("throughput", "p50_ms", "p99_ms", "server_cpu_ms_per_req", "client_cpu", "source_queries_per_req")
START_TIMEOUT = 120.0
MET = {True: "met", False: "NOT met"}


def add_load_options(p: argparse.ArgumentParser, rounds: int, rounds_help: str, store_help: str) -> None:
    """The options `overhead.py` and `ab.py` share: data, load, rounds, store, JSON."""
    p.add_argument("--rows", type=int, default=100_000, help="synthetic residents (default 100000)")
    p.add_argument("--duration", type=float, default=6.0, help="measured seconds per run (default 6)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    p.add_argument("--rounds", type=int, default=rounds, help=f"{rounds_help} (default {rounds})")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent client workers (default 8)")
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite", help=store_help)
    p.add_argument("--json", type=Path, help="also write the figures as JSON to this path")


def check_load_options(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if args.rows < 1000 or args.duration <= 0 or args.warmup < 0 or args.rounds < 1:
        p.error("need --rows >= 1000, --duration > 0, --warmup >= 0, --rounds >= 1")
    if not 1 <= args.concurrency <= 256:
        p.error("need 1 <= --concurrency <= 256")
    return args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    store_help = "the hub store of each variant: a SQLite file (default) or a PostgreSQL database"
    add_load_options(p, 5, "rounds over the variants", store_help)
    return check_load_options(p, p.parse_args(argv))


# --- the servers -------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    proc: subprocess.Popen[bytes]
    dir: Path
    log: Path
    server: Server | None = None


def store_database(name: str) -> str:
    return f"hub_overhead_{name.replace('-', '_')}"


async def fresh_store(name: str) -> str:
    """An empty PostgreSQL database for variant `name`'s store; its SQLAlchemy URL."""
    return await fresh_database(store_database(name))


def launch(
    kids: Children, where: Path, label: str, variant: str, store: str, tree: Path | None = None
) -> Variant:
    """Start `variant` of overhead_server.py as `label`, in the new directory `where`:
    this checkout's, or the one of the revision checked out at `tree` (with its own
    `hub`). A PostgreSQL store is a fresh database named after `where`."""
    where.mkdir()
    log = where / "server.log"
    argv = [
        sys.executable, str((tree / "bench" if tree else BENCH) / "overhead_server.py"),
        "--variant", variant, "--dir", str(where), "--ready", str(where / "ready.json"),
    ]  # fmt: skip
    if store == "postgresql":
        argv += ["--store-url", asyncio.run(fresh_store(where.name))]
    env = {**os.environ, "PYTHONPATH": str(tree)} if tree else None  # that revision's `hub`
    return Variant(label, kids.start(f"hub {label}", argv, env=env, log=log), where, log)


def ready(v: Variant, timeout: float = START_TIMEOUT) -> Variant:
    """Wait for the variant's port and key, then for its /healthz."""
    path, deadline = v.dir / "ready.json", time.monotonic() + timeout
    while not path.exists():
        if v.proc.poll() is not None:
            raise RuntimeError(f"hub {v.name} exited with {v.proc.returncode}:\n{tail(v.log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"hub {v.name} not started within {timeout:.0f} s:\n{tail(v.log)}")
        time.sleep(0.1)
    info = json.loads(path.read_text())
    if info["pid"] != v.proc.pid:  # server CPU is read from this pid's /proc
        raise RuntimeError(f"hub {v.name}: pid {info['pid']} is not the child's {v.proc.pid}")
    base = f"http://127.0.0.1:{info['port']}"
    wait_healthy(f"hub {v.name}", v.proc, f"{base}/healthz", timeout, v.log)
    headers = {"authorization": f"Bearer {info['key']}"}
    server = Server(v.name, v.proc.pid, f"{base}/graphql", headers, f"{base}/metrics")
    return Variant(v.name, v.proc, v.dir, v.log, server)


def audit_records(v: Variant, store: str) -> int:
    """Records in the variant's audit log (read after its server has stopped)."""
    if store == "postgresql":
        return asyncio.run(_pg_count(store_database(v.name)))
    conn = sqlite3.connect(f"file:{v.dir / 'hub.db'}?mode=ro", uri=True)
    try:
        count: int = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        return count
    finally:
        conn.close()


async def _pg_count(database: str) -> int:
    conn = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM audit_log")
        return count
    finally:
        await conn.close()


# --- checking and measuring ----------------------------------------------------------


def rows_of(server: Server, client: httpx.Client, body: str) -> Any:
    r = client.post(server.url, content=body, headers={"content-type": "application/json", **server.headers})
    if r.status_code != 200 or not r.text.startswith(OK_PREFIX):
        raise RuntimeError(f"hub {server.name} answered HTTP {r.status_code}: {r.text[:500]}")
    answer = r.json()
    if answer.get("errors"):
        raise RuntimeError(f"hub {server.name} answered with errors: {r.text[:500]}")
    (value,) = answer["data"]["dukcapil"].values()  # a page (its nodes) or a match's answers
    return value["nodes"] if isinstance(value, dict) else value


def check(servers: list[Server], bodies: list[str]) -> None:
    """Every body to every variant: HTTP 200, `{"data":`, and the same rows (the stand-ins
    must not change answers)."""
    with httpx.Client(timeout=60) as client:
        for i, body in enumerate(bodies):
            answers = {s.name: rows_of(s, client, body) for s in servers}
            first = answers[servers[0].name]
            if not first:
                raise RuntimeError(f"body {i} ({body[:200]}): no rows")
            for name, rows in answers.items():
                if rows != first:
                    raise RuntimeError(f"body {i}: hub {name} and hub {servers[0].name} disagree")
    print(
        f"check: {', '.join(s.name for s in servers)} agree on all {len(bodies)} bodies "
        f"({len(first)} rows x {len(first[0])} fields each)",
        flush=True,
    )


def run_rounds(
    kids: Children, servers: dict[str, Server], bodies: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    runs, order = [], VARIANTS
    for n in range(1, args.rounds + 1):
        shift = (n - 1) % len(order)
        for name in order[shift:] + order[:shift]:
            r = measure(kids, servers[name], bodies, args)
            runs.append({"round": n, "variant": name} | r)
            print(
                f"  round {n} {name:<14} {r['throughput']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
                f"  p99 {r['p99_ms']:7.2f} ms  server cpu {r['server_cpu_ms_per_req']:6.2f} ms/req"
                f"  client cpu {r['client_cpu']:4.0%}  {queries(r['source_queries_per_req'])} q/req",
                flush=True,
            )
    return runs


def benchmark(bodies: list[str], args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Start the servers, check, measure, stop them, count their audit records."""
    with Children() as kids, tempfile.TemporaryDirectory(prefix="hub-overhead-") as name:
        tmp = Path(name)
        variants: list[Variant] = []
        try:
            # start together, then wait
            variants = [launch(kids, tmp / v, v, v, args.store) for v in VARIANTS]
            variants = [ready(v) for v in variants]
            servers = {v.name: v.server for v in variants if v.server is not None}
            check(list(servers.values()), bodies)
            runs = run_rounds(kids, servers, bodies, args)
            for v in variants:
                kids.stop(v.proc, grace=30)  # SIGTERM: uvicorn drains, the hub closes its audit log
                if v.proc.returncode != 0:
                    raise RuntimeError(f"hub {v.name} exited with {v.proc.returncode}:\n{tail(v.log)}")
            return runs, {v.name: audit_records(v, args.store) for v in variants}
        except Exception:
            for v in variants:
                print(f"--- hub {v.name} log (tail) ---\n{tail(v.log)}", file=sys.stderr)
            raise


def audited_as_answered(runs: list[dict[str, Any]], records: dict[str, int], checked: int) -> dict[str, int]:
    """Answers each hub variant gave (check included); the audited ones must have
    exactly that many records, no-audit none."""
    answered = {v: checked + sum(r["answered"] for r in runs if r["variant"] == v) for v in records}
    for v in records:
        want = 0 if v == "no-audit" else answered[v]
        if records[v] != want:
            raise RuntimeError(f"hub {v}: {records[v]} audit records for {answered[v]} answers (want {want})")
    return answered


# --- the report --------------------------------------------------------------------


def median(values: Iterable[float | None]) -> float | None:
    """The median, or None for a metric a server does not give."""
    known = list(values)
    return None if None in known else statistics.median(known)  # type: ignore[type-var]


def queries(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def per_round(runs: list[dict[str, Any]], metric: str, top: str, bottom: str) -> list[float]:
    by = {(r["round"], r["variant"]): r[metric] for r in runs}
    rounds = sorted({r["round"] for r in runs})
    return [by[n, top] / by[n, bottom] for n in rounds if by[n, bottom]]


def summarise(
    runs: list[dict[str, Any]], order: tuple[str, ...]
) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
    medians = {v: {m: median(r[m] for r in runs if r["variant"] == v) for m in METRICS} for v in order}
    ratios = []
    for label, top, bottom, target in RATIOS:
        throughput = per_round(runs, "throughput", top, bottom)
        # CPU per request of the stand-in over full's: the throughput ratio a server
        # limited by its own CPU would show (higher is better, like the throughput one).
        cpu = per_round(runs, "server_cpu_ms_per_req", bottom, top)
        value = statistics.median(throughput)
        ratios.append(
            {
                "label": label, "variants": [top, bottom], "target": target,
                "throughput_ratio": value, "throughput_ratio_per_round": throughput,
                "met": None if target is None else value >= target,
                "cpu_ratio": statistics.median(cpu), "cpu_ratio_per_round": cpu,
                "p50_ratio": statistics.median(per_round(runs, "p50_ms", top, bottom)),
                "p99_ratio": statistics.median(per_round(runs, "p99_ms", top, bottom)),
            }
        )  # fmt: skip
    return medians, ratios


def header(args: argparse.Namespace, info: dict[str, Any], command: str, date: str) -> str:
    return "\n".join(
        [
            f"date:    {date}",
            f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']} ({info['platform']})",
            f"command: {command}",
            f"load:    {info['load_at_start']} (1/5/15-min load average at start)",
            f"runs:    {args.rounds} rounds x ({', '.join(VARIANTS)}), {args.duration:g} s each after "
            f"{args.warmup:g} s warm-up, {args.concurrency} concurrent clients, {args.store} store, "
            "W1 (100 rows x 7) as opd:dukcapil, each variant its own server process",
        ]
    )


def print_report(
    args: argparse.Namespace, medians: dict[str, dict[str, float]], ratios: list[dict[str, Any]]
) -> None:
    print(f"\nmedians over {args.rounds} rounds:\n")
    print(
        f"  {'variant':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server CPU ms/req':>18}"
        f" {'client CPU':>11} {'queries/req':>12}"
    )
    for v, m in medians.items():
        print(
            f"  {v:<14} {m['throughput']:8.1f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f}"
            f" {m['server_cpu_ms_per_req']:18.2f} {m['client_cpu']:11.0%}"
            f" {queries(m['source_queries_per_req']):>12}"
        )
    print("\nratios (median over rounds of each round's ratio):\n")
    for r in ratios:
        rounds = " ".join(f"{x:.2f}" for x in r["throughput_ratio_per_round"])
        target = "" if r["target"] is None else f"  (target >= {r['target']:.2f}: {MET[r['met']]})"
        print(f"  {r['label']:<26} {r['throughput_ratio']:.2f}{target}  rounds: {rounds}")
    print("\nserver CPU per request, the second's over the first's (the steadiest figure; what a")
    print("server limited by its own CPU would show as its throughput ratio):\n")
    for r in ratios:
        rounds = " ".join(f"{x:.2f}" for x in r["cpu_ratio_per_round"])
        print(f"  {r['label']:<26} {r['cpu_ratio']:.2f}  rounds: {rounds}")
    print("\nlatency, the first's over the second's (median over rounds):\n")
    for r in ratios:
        print(f"  {r['label']:<26} p50 {r['p50_ratio']:.2f}x  p99 {r['p99_ratio']:.2f}x")


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
            asyncio.run(ensure_loaded(SERVER, DATABASE, args.rows))
            kecamatan = asyncio.run(kecamatan_in(f"{SERVER}/{DATABASE}"))
            bodies = read_workload("W1", 100, kecamatan, postgraphile=False).bodies["hub"]
            runs, records = benchmark(bodies, args)
            answered = audited_as_answered(runs, records, len(bodies))
        except RuntimeError as e:
            print(f"\nFAILED: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; child processes stopped", file=sys.stderr)
            return 130
    medians, ratios = summarise(runs, VARIANTS)
    end_load, wall = load_average(), time.monotonic() - started
    print(f"\n{head}\nload at end: {end_load}\nwall time: {wall // 60:.0f} min {wall % 60:.0f} s")
    audit_text = ", ".join(f"{v} {records[v]:,} records / {answered[v]:,} answers" for v in records)
    print(f"audit log after the run: {audit_text}")
    print_report(args, medians, ratios)
    if args.json:
        figures = {
            "date": date, "machine": info, "command": command, "load_at_end": end_load,
            "args": {k: str(v) for k, v in vars(args).items()}, "runs": runs, "medians": medians,
            "ratios": ratios, "audit_records": records, "answered": answered,
        }  # fmt: skip
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
