"""The legitimate match flow, revision against revision: Dinsos verifying distinct
recipients against Dukcapil's register (name and birth date, one record each), 1,000
records per call, on the demo regency with the project's own policy.

    .venv/bin/python bench/match_rate.py A B [--rounds 5] [--calls 3] [--residents N]

A and B are git revisions or `.` (the working tree), each served from a temporary
worktree by its own `hub serve` (one process, its own SQLite store, the same generated
demo data). In every round each side verifies `--calls` x 1,000 residents it has not
verified before (so every guess budget is spent afresh, as for a new list), in calls
one after another; the side that goes first alternates. Every record must come back
found and agreeing. Prints records/s per side and round, the medians, and B / A (the
median of the rounds' ratios; above 1 favours B).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from ab import checkout, git
from children import Children, cpu_seconds, free_port, tail, terminate_as_exit, wait_healthy

REPO = Path(__file__).resolve().parents[1]
SIDES = ("A", "B")
PER_CALL = 1000
QUERY = (
    "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { "
    "pendudukMatch(records: $r) { index found nama tanggalLahir } } }"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("a", metavar="A", help="git revision, or . for the working tree")
    p.add_argument("b", metavar="B", help="git revision, or . for the working tree")
    p.add_argument("--rounds", type=int, default=5, help="rounds over both sides (default 5)")
    p.add_argument(
        "--calls", type=int, default=3, help="calls of 1,000 records per side and round (default 3)"
    )
    p.add_argument("--residents", type=int, help="demo residents (default: enough for every call, +10%%)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.calls < 1:
        p.error("need --rounds >= 1 and --calls >= 1")
    return args


def register(data: Path) -> list[dict[str, str]]:
    conn = sqlite3.connect(f"file:{data / 'dukcapil.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT nik, nama, tanggal_lahir FROM penduduk ORDER BY nik").fetchall()
    finally:
        conn.close()
    return [{"nik": n, "nama": m, "tanggalLahir": d} for n, m, d in rows]


def serve(kids: Children, side: str, tree: Path, data: Path, work: Path) -> tuple[str, str, int]:
    """`hub serve` of the revision at `tree`: its base URL, an API key for opd:dinsos, its pid."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "PYTHONPATH": str(tree), "HUB_DEMO_DIR": str(data), "HUB_LOG_LEVEL": "WARNING",
        "HUB_RATE_LIMIT_PUBLIC": "", "HUB_RATE_LIMIT_KEY": "",  # a bench is one client
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{work / f'hub-{side}.db'}", "HUB_AUDIT_KEY": "bench",
    }  # fmt: skip
    hub = [sys.executable, "-c", "from hub.cli.main import main; main()"]
    made = kids.start(f"clients {side}", [*hub, "clients", "create", "opd:dinsos"], env=env)
    out, err = made.communicate(timeout=120)
    if made.returncode != 0:
        raise RuntimeError(f"{side}: hub clients create failed:\n{err.decode()[-2000:]}")
    port, log = free_port(), work / f"hub-{side}.log"
    argv = [*hub, "serve", "--schema", str(tree / "schema"), "--policies", str(tree / "policies")]
    proc = kids.start(f"hub {side}", [*argv, "--port", str(port)], env=env, log=log)
    wait_healthy(f"hub {side}", proc, f"http://127.0.0.1:{port}/readyz", 120, log)
    return f"http://127.0.0.1:{port}", out.decode().strip(), proc.pid


def verify(client: httpx.Client, people: list[dict[str, str]]) -> None:
    r = client.post("/graphql", json={"query": QUERY, "variables": {"r": people}})
    body: dict[str, Any] = r.json() if r.status_code == 200 else {"errors": [{"message": r.text[:300]}]}
    if body.get("errors"):
        raise RuntimeError(f"HTTP {r.status_code}: {body['errors'][:2]}")
    answers = body["data"]["dukcapil"]["pendudukMatch"]
    wrong = [a for a in answers if (a["found"], a["nama"], a["tanggalLahir"]) != (True, True, True)]
    if len(answers) != len(people) or wrong:
        raise RuntimeError(f"{len(wrong)} of {len(people)} records not answered as agreeing: {wrong[:2]}")


def measure(n: int, side: str, server: tuple[str, str, int], batch: list[dict[str, str]]) -> dict[str, Any]:
    """One side's turn in round `n`: 10 records to warm up, the rest in calls of PER_CALL, timed."""
    base, key, pid = server
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        verify(client, batch[:10])  # a warm connection and caches, off the clock
        cpu, start = cpu_seconds(pid), time.perf_counter()
        for i in range(10, len(batch), PER_CALL):
            verify(client, batch[i : i + PER_CALL])
        wall, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu
    done = len(batch) - 10
    run = {"round": n, "side": side, "rate": done / wall, "cpu_ms": 1000 * cpu / done}
    print(f"  round {n} {side}  {run['rate']:8.0f} records/s  {run['cpu_ms']:.3f} ms CPU/record", flush=True)
    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    needed = 2 * args.rounds * (args.calls * PER_CALL + 10)
    residents = args.residents or int(needed * 1.1) + 500
    print(f"date:    {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with terminate_as_exit(), Children() as kids, tempfile.TemporaryDirectory(prefix="hub-match-") as name:
        work = Path(name)
        data = work / "demo"
        from hub.demo.generate import generate

        generate(data, residents=residents, progress=False)
        people = register(data)
        if len(people) < needed:
            print(f"FAILED: {len(people)} residents, {needed} needed", file=sys.stderr)
            return 1
        labels, servers = {}, {}
        try:
            for side, rev in zip(SIDES, (args.a, args.b), strict=True):
                tree, labels[side] = checkout(rev, work / f"tree-{side}")
                servers[side] = serve(kids, side, tree, data, work)
            runs = [
                measure(n, side, servers[side], [people.pop() for _ in range(args.calls * PER_CALL + 10)])
                for n in range(1, args.rounds + 1)
                for side in (SIDES if n % 2 else SIDES[::-1])
            ]
        except RuntimeError as e:
            print(f"\nFAILED: {e}", file=sys.stderr)
            for side in servers:
                print(f"--- hub {side} log (tail) ---\n{tail(work / f'hub-{side}.log')}", file=sys.stderr)
            return 1
        finally:
            for side in labels:
                if labels[side] and (work / f"tree-{side}").exists():
                    git("worktree", "remove", "--force", str(work / f"tree-{side}"))
    by = {(r["round"], r["side"]): r for r in runs}
    ratios = [by[n, "B"]["rate"] / by[n, "A"]["rate"] for n in range(1, args.rounds + 1)]
    print(f"\nmedians over {args.rounds} rounds ({args.calls} calls of {PER_CALL} records each):\n")
    for side in SIDES:
        mine = [r for r in runs if r["side"] == side]
        rate = statistics.median(r["rate"] for r in mine)
        cpu = statistics.median(r["cpu_ms"] for r in mine)
        print(f"  {side}  {rate:8.0f} records/s  {cpu:.3f} ms CPU/record  {labels[side]}")
    rounds = " ".join(f"{x:.2f}" for x in ratios)
    print(f"\nB / A records/s: {statistics.median(ratios):.2f}  rounds: {rounds}")
    print(f"load at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
