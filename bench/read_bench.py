"""Read benchmark: the hub against the floor on the same PostgreSQL data (DESIGN §9).

    .venv/bin/python bench/read_bench.py [--rows 100000] [--duration 8] [--rounds 3]
                                         [--concurrency 8] [--json PATH]

Loads synthetic residents into PostgreSQL (once), starts the hub (`hub serve`) and
the floor (`bench/floor_app.py`) as separate processes, checks that both return the
same rows, then drives each with a separate load-generator process, interleaving
hub W1, floor W1, hub W2, floor W2 in every round. Prints throughput, p50 and p99
latency (medians over rounds) and the hub/floor ratios. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from children import Children, cpu_seconds, free_port, tail, terminate_as_exit, wait_healthy
from synthetic import ensure_loaded, kecamatan_in

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "hub_bench"
QUERY = (
    "query($k: String, $n: Int) { dukcapil { penduduk(where: {kecamatan: {eq: $k}}, first: $n) "
    "{ nodes { nik nama jenisKelamin tanggalLahir kecamatan kelurahan pekerjaan } } } }"
)
WORKLOADS = {"W1": 100, "W2": 1000}  # rows per request, 7 fields each
TARGETS = ("hub", "floor")
CATALOG = """\
opd: {{id: dukcapil, name: Dinas Kependudukan dan Pencatatan Sipil (benchmark)}}
sources:
  main: {{adapter: sql, url: "postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"}}
datasets:
  penduduk:
    title: Data Penduduk (synthetic)
    source: main
    table: penduduk
    key: nik
    fields:
      nik:           {{type: string, classification: confidential}}
      nama:          {{type: string, classification: confidential}}
      jenis_kelamin: {{type: string, classification: public}}
      tanggal_lahir: {{type: date, classification: internal}}
      kecamatan:     {{type: string, classification: public}}
      kelurahan:     {{type: string, classification: public}}
      alamat:        {{type: string, classification: confidential}}
      pekerjaan:     {{type: string, classification: internal}}
      status_hidup:  {{type: boolean, classification: internal, column: is_alive}}
"""
# The caller is Dukcapil's own system: an OPD may read its own datasets without a rule.
POLICY = "# benchmark: opd:dukcapil reads its own dataset (implicit rule)\n"
SUBJECT = "opd:dukcapil"


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Measurement:
    round: int
    workload: str
    target: str
    requests: int
    throughput: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_ms_per_req: float
    client_cpu: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Hub vs floor read benchmark (see bench/README.md).")
    p.add_argument("--rows", type=int, default=100_000, help="synthetic residents (default 100000)")
    p.add_argument("--duration", type=float, default=8.0, help="measured seconds per run (default 8)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of hub/floor x W1/W2 (default 3)")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent client workers (default 8)")
    p.add_argument("--json", type=Path, help="also write the figures as JSON to this path")
    args = p.parse_args(argv)
    if args.rows < 1000 or args.duration <= 0 or args.rounds < 1 or not 1 <= args.concurrency <= 256:
        p.error("need --rows >= 1000, --duration > 0, --rounds >= 1, 1 <= --concurrency <= 256")
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
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_at_start": load_average(),
    }


# --- the hub -----------------------------------------------------------------------


def hub_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
        "HUB_AUDIT_KEY": "bench-audit-key",
        "HUB_CURSOR_SECRET": "bench-cursor-secret",
        "HUB_LOG_LEVEL": "WARNING",
    }


def write_hub_config(tmp: Path) -> tuple[Path, Path]:
    schema, policies = tmp / "schema", tmp / "policies"
    schema.mkdir()
    policies.mkdir()
    (schema / "dukcapil.yaml").write_text(CATALOG.format(database=DATABASE))
    (policies / "model.conf").write_text((REPO / "policies" / "model.conf").read_text())
    (policies / "policy.csv").write_text(POLICY)
    return schema, policies


def hub_command() -> str:
    return str(Path(sys.executable).parent / "hub")


def create_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [hub_command(), "clients", "create", SUBJECT, "--name", "read_bench"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"hub clients create failed:\n{done.stderr}")
    return done.stdout.strip()


def start_hub(kids: Children, tmp: Path) -> Server:
    schema, policies = write_hub_config(tmp)
    env = hub_env(tmp)
    key = create_key(env)
    port, log = free_port(), tmp / "hub.log"
    argv = [hub_command(), "serve", "--schema", str(schema), "--policies", str(policies), "--port", str(port)]
    proc = kids.start("hub", argv, env=env, log=log)
    wait_healthy("hub", proc, f"http://127.0.0.1:{port}/healthz", 60, log)
    return Server("hub", proc.pid, f"http://127.0.0.1:{port}/graphql", {"authorization": f"Bearer {key}"})


def start_floor(kids: Children, tmp: Path) -> Server:
    port, log = free_port(), tmp / "floor.log"
    argv = [sys.executable, str(BENCH / "floor_app.py"), "--port", str(port), "--dsn", f"{SERVER}/{DATABASE}"]
    proc = kids.start("floor", argv, log=log)
    wait_healthy("floor", proc, f"http://127.0.0.1:{port}/healthz", 60, log)
    return Server("floor", proc.pid, f"http://127.0.0.1:{port}/graphql", {})


# --- checking and measuring --------------------------------------------------------


def body(kecamatan: str, rows: int) -> str:
    return json.dumps({"query": QUERY, "variables": {"k": kecamatan, "n": rows}})


def nodes_of(server: Server, client: httpx.Client, kecamatan: str, rows: int) -> list[dict[str, Any]]:
    headers = {"content-type": "application/json", **server.headers}
    r = client.post(server.url, content=body(kecamatan, rows), headers=headers)
    answer = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
    if r.status_code != 200 or not answer or answer.get("errors"):
        raise RuntimeError(f"{server.name} answered HTTP {r.status_code}: {r.text[:500]}")
    nodes: list[dict[str, Any]] = answer["data"]["dukcapil"]["penduduk"]["nodes"]
    return nodes


def verify(hub: Server, floor: Server, kecamatan: list[str]) -> None:
    """Every kecamatan, both workloads: the same rows (all 7 values) in the same order."""
    with httpx.Client(timeout=30) as client:
        for rows in WORKLOADS.values():
            for kec in kecamatan:
                mine, floors = nodes_of(hub, client, kec, rows), nodes_of(floor, client, kec, rows)
                if mine != floors:
                    raise RuntimeError(mismatch(kec, rows, mine, floors))
                if len(mine) != rows:
                    print(f"  note: {kec} holds only {len(mine)} rows (< {rows})", flush=True)
    print(f"verified: hub and floor return the same rows for {len(kecamatan)} kecamatan x {list(WORKLOADS)}")


def mismatch(kec: str, rows: int, mine: list[dict[str, Any]], floors: list[dict[str, Any]]) -> str:
    head = f"hub and floor disagree for kecamatan={kec!r}, first={rows}: {len(mine)} vs {len(floors)} rows"
    for i, (a, b) in enumerate(zip(mine, floors, strict=False)):
        if a != b:
            return f"{head}; first difference at row {i}:\n  hub:   {a}\n  floor: {b}"
    return head


def measure(
    kids: Children, server: Server, rows: int, kecamatan: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    spec = {
        "url": server.url,
        "headers": server.headers,
        "bodies": [body(k, rows) for k in kecamatan],
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "duration": args.duration,
    }
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
    return result


def run_rounds(
    kids: Children, servers: dict[str, Server], kecamatan: list[str], args: argparse.Namespace
) -> list[Measurement]:
    out: list[Measurement] = []
    for n in range(1, args.rounds + 1):
        for workload, rows in WORKLOADS.items():
            for target in TARGETS:
                r = measure(kids, servers[target], rows, kecamatan, args)
                m = Measurement(
                    n, workload, target, r["requests"], r["throughput"], r["p50_ms"], r["p90_ms"],
                    r["p99_ms"], r["max_ms"], r["server_cpu_ms_per_req"], r["client_cpu"],
                )  # fmt: skip
                out.append(m)
                print(
                    f"  round {n} {workload} {target:<5} {m.throughput:8.1f} req/s  p50 {m.p50_ms:7.2f} ms"
                    f"  p99 {m.p99_ms:7.2f} ms  server cpu {m.server_cpu_ms_per_req:.2f} ms/req"
                    f"  client cpu {m.client_cpu:.0%}",
                    flush=True,
                )
    return out


# --- reporting ---------------------------------------------------------------------

METRICS = ("throughput", "p50_ms", "p99_ms", "server_cpu_ms_per_req", "client_cpu")


def summarise(runs: list[Measurement]) -> dict[str, dict[str, dict[str, float]]]:
    """workload -> target -> metric -> median over rounds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for workload in WORKLOADS:
        out[workload] = {}
        for target in TARGETS:
            mine = [r for r in runs if r.workload == workload and r.target == target]
            out[workload][target] = {m: statistics.median(getattr(r, m) for r in mine) for m in METRICS}
    return out


def ratios(summary: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    out = {}
    for workload, by_target in summary.items():
        hub, floor = by_target["hub"], by_target["floor"]
        out[workload] = {
            m: hub[m] / floor[m] if floor[m] else float("nan")
            for m in ("throughput", "p50_ms", "p99_ms", "server_cpu_ms_per_req")
        }
    return out


def table(summary: dict[str, dict[str, dict[str, float]]], rat: dict[str, dict[str, float]]) -> str:
    lines = [
        "| workload | target | req/s | p50 ms | p99 ms | server CPU ms/req | client CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload, by_target in summary.items():
        label = f"{workload} ({WORKLOADS[workload]:,} rows x 7)"
        for target, s in by_target.items():
            lines.append(
                f"| {label} | {target} | {s['throughput']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} "
                f"| {s['server_cpu_ms_per_req']:.2f} | {s['client_cpu']:.0%} |"
            )
    lines += ["", "| hub/floor | throughput | p50 | p99 | server CPU/req |"]
    lines += ["| --- | ---: | ---: | ---: | ---: |"]
    for workload, r in rat.items():
        lines.append(
            f"| {workload} | {r['throughput']:.2f}x | {r['p50_ms']:.2f}x | {r['p99_ms']:.2f}x "
            f"| {r['server_cpu_ms_per_req']:.2f}x |"
        )
    return "\n".join(lines)


def header(args: argparse.Namespace, info: dict[str, Any], command: str, date: str) -> str:
    return "\n".join(
        [
            f"date:    {date}",
            f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']} ({info['platform']})",
            f"command: {command}",
            f"load:    {info['load_at_start']} (1/5/15-min load average at start)",
            f"runs:    {args.rounds} rounds x (hub, floor) x (W1, W2), {args.duration:g} s each after "
            f"{args.warmup:g} s warm-up, {args.concurrency} concurrent clients",
        ]
    )


def benchmark(args: argparse.Namespace, kecamatan: list[str]) -> list[Measurement]:
    """Start both servers, check they agree, measure; every child is stopped on the way out."""
    with Children() as kids, tempfile.TemporaryDirectory(prefix="hub-bench-") as name:
        tmp = Path(name)
        try:
            servers = {"hub": start_hub(kids, tmp), "floor": start_floor(kids, tmp)}
            verify(servers["hub"], servers["floor"], kecamatan)
            return run_rounds(kids, servers, kecamatan, args)
        except Exception:
            for log in ("hub", "floor"):
                print(f"--- {log} log (tail) ---\n{tail(tmp / f'{log}.log')}", file=sys.stderr)
            raise


def report(args: argparse.Namespace, head: str, runs: list[Measurement], figures: dict[str, Any]) -> None:
    summary = summarise(runs)
    rat = ratios(summary)
    figures["load_at_end"] = load_average()
    print(f"\n{head}\nload at end: {figures['load_at_end']}")
    print(f"medians over {args.rounds} rounds:\n\n{table(summary, rat)}")
    if args.json:
        figures |= {"runs": [asdict(r) for r in runs], "medians": summary, "hub_over_floor": rat}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    info = machine()
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = header(args, info, command, date)
    print(head, flush=True)
    with terminate_as_exit():
        try:
            loaded = asyncio.run(ensure_loaded(SERVER, DATABASE, args.rows))
            how = "loaded" if loaded.reloaded else "already there"
            print(f"data: {loaded.rows:,} residents ({how}, {loaded.seconds:.1f} s)", flush=True)
            runs = benchmark(args, asyncio.run(kecamatan_in(f"{SERVER}/{DATABASE}")))
        except RuntimeError as e:
            print(f"\nFAILED: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; child processes stopped", file=sys.stderr)
            return 130
    figures = {"date": date, "machine": info, "command": command, "rows": loaded.rows,
               "args": {k: str(v) for k, v in vars(args).items()}}  # fmt: skip
    report(args, head, runs, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
