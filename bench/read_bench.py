"""Read benchmark: the hub against the floor and PostGraphile 4 (docs/design.md §9).

    .venv/bin/python bench/read_bench.py [--rows 100000] [--recipients 20000] [--duration 6]
        [--rounds 3] [--concurrency 8] [--workloads W1,W2,W3,W4,W5]
        [--targets hub,floor,postgraphile] [--json PATH]

Loads synthetic residents into PostgreSQL and recipients into a second database
(once), starts the hub, the floor (`bench/floor_app.py`) and PostGraphile as separate
processes, checks that they return the same answers for every request body, then
drives each with a separate load-generator process (`bench/loadgen.py`), interleaved:
in every round, every workload, every target in turn. Prints throughput, p50 and p99
latency, CPU per request (medians over rounds), the hub's source queries per request,
the ratios and which of the read targets are met. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import report
from children import Children, cpu_seconds, tail, terminate_as_exit
from recipients import ensure_recipients
from report import Measurement
from servers import (
    BENCH,
    DATABASE,
    DINSOS_DATABASE,
    SERVER,
    Server,
    calls_between,
    postgraphile_installed,
    source_calls,
    start_floor,
    start_hub,
    start_postgraphile,
)
from synthetic import ensure_loaded, kecamatan_in, people_in
from workloads import Workload, count_workload, match_workload, read_workload, recipients_workload

WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
TARGETS = ("hub", "floor", "postgraphile")
OK_PREFIX = '{"data":'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Hub vs floor vs PostGraphile read benchmark (bench/README.md).")
    p.add_argument("--rows", type=int, default=100_000, help="synthetic residents (default 100000)")
    p.add_argument("--recipients", type=int, default=20_000, help="synthetic recipients (default 20000)")
    p.add_argument("--duration", type=float, default=6.0, help="measured seconds per run (default 6)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    p.add_argument("--rounds", type=int, default=3, help="rounds over every workload and target (default 3)")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent client workers (default 8)")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="subset to run, e.g. W1,W3")
    p.add_argument("--targets", default=",".join(TARGETS), help="subset to measure, e.g. hub,floor")
    p.add_argument("--json", type=Path, help="also write the figures as JSON to this path")
    args = p.parse_args(argv)
    if args.rows < 1000 or args.recipients < 100 or args.duration <= 0 or args.rounds < 1:
        p.error("need --rows >= 1000, --recipients >= 100, --duration > 0, --rounds >= 1")
    if not 1 <= args.concurrency <= 256:
        p.error("need 1 <= --concurrency <= 256")
    args.workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    args.targets = [t.strip().lower() for t in args.targets.split(",") if t.strip()]
    if not args.workloads or not set(args.workloads) <= set(WORKLOADS):
        p.error(f"--workloads: a comma-separated subset of {','.join(WORKLOADS)}")
    if not args.targets or not set(args.targets) <= set(TARGETS):
        p.error(f"--targets: a comma-separated subset of {','.join(TARGETS)}")
    args.workloads = [w for w in WORKLOADS if w in args.workloads]
    args.targets = [t for t in TARGETS if t in args.targets]
    return args


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    node = "none"
    with contextlib.suppress(OSError):
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "node": node.strip(),
        "platform": platform.platform(),
        "load_at_start": load_average(),
    }


# --- data and workloads ------------------------------------------------------------


async def load_data(args: argparse.Namespace) -> None:
    for what, loaded in (
        ("residents", await ensure_loaded(SERVER, DATABASE, args.rows)),
        ("recipients", await ensure_recipients(SERVER, DATABASE, DINSOS_DATABASE, args.recipients)),
    ):
        how = "loaded" if loaded.reloaded else "already there"
        print(f"data: {loaded.rows:,} {what} ({how}, {loaded.seconds:.1f} s)", flush=True)


async def build_workloads(args: argparse.Namespace, postgraphile: bool) -> list[Workload]:
    kecamatan = await kecamatan_in(f"{SERVER}/{DATABASE}")
    conn = await asyncpg.connect(f"{SERVER}/{DINSOS_DATABASE}")
    try:
        rows = await conn.fetch("SELECT program, tahun FROM penerima GROUP BY program, tahun ORDER BY 1, 2")
        pairs = [(r["program"], r["tahun"]) for r in rows]
    finally:
        await conn.close()
    people: list[tuple[str, str]] = []
    if "W4" in args.workloads:
        people = await people_in(f"{SERVER}/{DATABASE}")
    make = {
        "W1": lambda: read_workload("W1", 100, kecamatan, postgraphile),
        "W2": lambda: read_workload("W2", 1000, kecamatan, postgraphile),
        "W3": lambda: recipients_workload(pairs),
        "W4": lambda: match_workload(people),
        "W5": count_workload,
    }
    return [make[w]() for w in args.workloads]


# --- checking ----------------------------------------------------------------------


def ask(client: httpx.Client, server: Server, body: str) -> Any:
    headers = {"content-type": "application/json", **server.headers}
    r = client.post(server.url, content=body, headers=headers)
    if r.status_code != 200 or not r.text.startswith(OK_PREFIX):
        raise RuntimeError(f"{server.name} answered HTTP {r.status_code}: {r.text[:500]}")
    answer = r.json()
    if answer.get("errors"):
        raise RuntimeError(f"{server.name} answered with errors: {r.text[:500]}")
    return answer


def difference(a: Any, b: Any) -> str:
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return f"{len(a)} vs {len(b)} items; first difference at item {i}:\n    {x}\n    {y}"
        return f"{len(a)} vs {len(b)} items"
    return f"\n    {a}\n    {b}"


def verify(workloads: list[Workload], servers: dict[str, Server]) -> dict[str, float]:
    """Every body of every workload to every server that serves it: the same normalised
    answer as the floor's, or the run fails. Returns the hub's source queries per request."""
    hub, queries = servers["hub"], {}
    with httpx.Client(timeout=60) as client:
        for w in workloads:
            targets = [t for t in w.bodies if t in servers]
            count = len(w.bodies["floor"])
            before = source_calls(hub)
            for i in range(count):
                answers = {t: w.answer(t, ask(client, servers[t], w.bodies[t][i])) for t in targets}
                for t, mine in answers.items():
                    if mine != answers["floor"]:
                        raise RuntimeError(
                            f"{w.name}: {t} and floor disagree on body {i} ({w.bodies['floor'][i][:200]}…): "
                            + difference(mine, answers["floor"])
                        )
                if i == 0:
                    example = w.describe(answers["floor"])
            calls = calls_between(before, source_calls(hub))
            queries[w.name] = sum(calls.values()) / count
            by_source = ", ".join(f"{s} {n / count:g}" for s, n in sorted(calls.items()))
            print(
                f"  {w.name}: {'/'.join(targets)} agree on {count} bodies (first: {example}); "
                f"hub source queries/request: {queries[w.name]:g} ({by_source})",
                flush=True,
            )
    return queries


# --- measuring ---------------------------------------------------------------------


def measure(kids: Children, server: Server, bodies: list[str], args: argparse.Namespace) -> dict[str, Any]:
    spec = {
        "url": server.url,
        "headers": server.headers,
        "bodies": bodies,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "duration": args.duration,
        "ok_prefix": OK_PREFIX,
    }
    calls_before = source_calls(server) if server.metrics_url else None
    proc = kids.start("loadgen", [sys.executable, str(BENCH / "loadgen.py")], stdin=subprocess.PIPE)
    cpu_before = cpu_seconds(server.pid)
    out, err = kids.communicate(proc, json.dumps(spec).encode(), timeout=args.warmup + args.duration + 90)
    cpu = cpu_seconds(server.pid) - cpu_before
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(out)
    if result["errors"]:
        failed, first = result["errors"], result["first_error"]
        raise RuntimeError(f"{server.name}: {failed} failed requests; the first: {first}")
    # The server's CPU while the load generator ran, over every request it answered.
    answered = result["answered"]
    result["server_cpu_ms_per_req"] = cpu * 1000 / answered if answered else 0.0
    result["source_queries_per_req"] = None
    if calls_before is not None and answered:
        calls = calls_between(calls_before, source_calls(server))
        result["source_queries_per_req"] = sum(calls.values()) / answered
    return result


def run_rounds(
    kids: Children, servers: dict[str, Server], workloads: list[Workload], args: argparse.Namespace
) -> list[Measurement]:
    out: list[Measurement] = []
    for n in range(1, args.rounds + 1):
        for w in workloads:
            for target in args.targets:
                if target not in w.bodies or target not in servers:
                    continue
                r = measure(kids, servers[target], w.bodies[target], args)
                m = Measurement(
                    n, w.name, target, r["requests"], r["answered"], r["throughput"], r["p50_ms"],
                    r["p90_ms"], r["p99_ms"], r["max_ms"], r["server_cpu_ms_per_req"], r["client_cpu"],
                    r["client_cpu_ms_per_req"], r["source_queries_per_req"],
                )  # fmt: skip
                out.append(m)
                queries = (
                    "" if m.source_queries_per_req is None else f"  {m.source_queries_per_req:.2f} q/req"
                )
                print(
                    f"  round {n} {w.name} {target:<12} {m.throughput:8.1f} req/s  p50 {m.p50_ms:7.2f} ms"
                    f"  p99 {m.p99_ms:7.2f} ms  server cpu {m.server_cpu_ms_per_req:6.2f} ms/req"
                    f"  client cpu {m.client_cpu:4.0%}{queries}",
                    flush=True,
                )
    return out


# --- the run -----------------------------------------------------------------------


def header(args: argparse.Namespace, info: dict[str, Any], command: str, date: str) -> str:
    return "\n".join(
        [
            f"date:    {date}",
            f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, Node {info['node']}"
            f" ({info['platform']})",
            f"command: {command}",
            f"load:    {info['load_at_start']} (1/5/15-min load average at start)",
            f"runs:    {args.rounds} rounds x ({','.join(args.targets)}) x ({','.join(args.workloads)}), "
            f"{args.duration:g} s each after {args.warmup:g} s warm-up, "
            f"{args.concurrency} concurrent clients",
        ]
    )


def want_postgraphile(args: argparse.Namespace) -> bool:
    if "postgraphile" not in args.targets or not {"W1", "W2"} & set(args.workloads):
        return False
    why_not = postgraphile_installed()
    if why_not:
        print(f"PostGraphile skipped: {why_not}", flush=True)
        args.targets = [t for t in args.targets if t != "postgraphile"]
        return False
    return True


def benchmark(
    args: argparse.Namespace, postgraphile: bool
) -> tuple[list[Workload], dict[str, float], list[Measurement]]:
    """Start the servers, check they agree, measure; every child is stopped on the way out."""
    workloads = asyncio.run(build_workloads(args, postgraphile))
    with Children() as kids, tempfile.TemporaryDirectory(prefix="hub-bench-") as name:
        tmp = Path(name)
        try:
            servers = {"hub": start_hub(kids, tmp), "floor": start_floor(kids, tmp)}
            if postgraphile:
                servers["postgraphile"] = start_postgraphile(kids, tmp)
            print("check: every request body, every server", flush=True)
            queries = verify(workloads, servers)
            return workloads, queries, run_rounds(kids, servers, workloads, args)
        except Exception:
            for log in ("hub", "floor", "postgraphile"):
                if (tmp / f"{log}.log").exists():
                    print(f"--- {log} log (tail) ---\n{tail(tmp / f'{log}.log')}", file=sys.stderr)
            raise


def print_report(
    args: argparse.Namespace,
    head: str,
    workloads: list[Workload],
    checked: dict[str, float],
    runs: list[Measurement],
    figures: dict[str, Any],
) -> None:
    summary = report.summarise(runs)
    labels = {w.name: w.label for w in workloads}
    figures["load_at_end"] = load_average()
    targets, judged = report.targets_table(runs, summary)
    print(f"\n{head}\nload at end: {figures['load_at_end']}")
    print(f"medians over {args.rounds} rounds (source queries/req: the largest round):\n")
    print(report.figures_table(summary, labels))
    print("\nratios: the median over rounds of each round's ratio (n/a: not measured; PostGraphile")
    print(f"serves W1 and W2 only):\n\n{report.ratio_table(summary, runs)}")
    checked_text = ", ".join(f"{w} {q:g}" for w, q in checked.items())
    print(f"\nhub source queries per request in the check (exact): {checked_text}")
    print(f"\ntargets (- : a figure it needs was not measured):\n\n{targets}")
    if args.json:
        figures |= {
            "runs": [asdict(r) for r in runs],
            "medians": summary,
            "hub_over_floor": report.ratios(runs, "floor"),
            "hub_over_postgraphile": report.ratios(runs, "postgraphile"),
            "checked_source_queries_per_req": checked,
            "targets": judged,
        }
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    info = machine()
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    print(header(args, info, command, date), flush=True)
    with terminate_as_exit():
        try:
            asyncio.run(load_data(args))
            postgraphile = want_postgraphile(args)
            workloads, checked, runs = benchmark(args, postgraphile)
        except RuntimeError as e:
            print(f"\nFAILED: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; child processes stopped", file=sys.stderr)
            return 130
    figures = {"date": date, "machine": info, "command": command, "rows": args.rows,
               "recipients": args.recipients, "args": {k: str(v) for k, v in vars(args).items()}}  # fmt: skip
    print_report(args, header(args, info, command, date), workloads, checked, runs, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
