"""The cross-agency questions of the demo regency, asked of one hub: per question, the
queries each source received per request (from the hub's /metrics) and the time per
request; then the analyst's SSH question against the client's way without it (page
every budget line with its price and compare in the client).

    .venv/bin/python bench/questions.py [--residents 50000] [--requests 20]

Generates the demo regency (SQLite files) in a temporary directory and serves it with
`hub serve` and the demo catalog and policy; keys for opd:dinsos and user:rina (the
analyst) come from `hub clients create`. Questions:

    Q1  Dinsos: its 2026 PKH recipients that Dukcapil does not know or lists as dead
        (Dinsos may only match Dukcapil's fields: a verification of each recipient)
    Q2  the same, counted per kecamatan (perturbed: Dinsos may not read Dukcapil's)
    Q2a the analyst: PKH recipients per kecamatan whom Dukcapil lists as dead (the
        analyst may `join` on the NIKs and count the status: perturbed, nothing verified)
    Q2b the analyst: recipients per programme by their resident's status (alive, dead,
        null for a NIK Dukcapil does not know), `groupByRelated`
    Q3  the analyst: budget lines priced above their standard unit price (SSH), with
        totalCount and the first 100 lines
    Q3c the client's way: every budget line with its `ssh { harga }`, 1,000 a page,
        compared in the client; must find the lines Q3 counts

Each request must answer without errors and the same every time. Prints, per question,
the median time per request and the source queries of one request by source; and
Q3c / Q3 time (how much one question saves over paging).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from children import Children, free_port, tail, terminate_as_exit, wait_healthy

REPO = Path(__file__).resolve().parents[1]
HUB = [sys.executable, "-c", "from hub.cli.main import main; main()"]
SUBJECTS = {"dinsos": "opd:dinsos", "analyst": "user:rina"}

UNKNOWN_OR_DEAD = (
    '{program: {eq: "PKH"}, tahun: {eq: 2026}, '
    "or: [{penduduk: {exists: false}}, {penduduk: {statusHidup: {eq: false}}}]}"
)
QUESTIONS: dict[str, tuple[str, str, str]] = {  # name: (who, what, query)
    "Q1": ("dinsos", "2026 PKH recipients unknown or dead at Dukcapil",
           f"{{ dinsos {{ penerimaBansos(where: {UNKNOWN_OR_DEAD}, first: 1000) "
           "{ totalCount nodes { id nik } } } }"),
    "Q2": ("dinsos", "the same, counted per kecamatan",
           f"{{ dinsos {{ penerimaBansosAggregate(groupBy: [kecamatan], where: {UNKNOWN_OR_DEAD}) "
           "{ group { kecamatan } count perturbed } } }"),
    "Q2a": ("analyst", "PKH recipients per kecamatan whom Dukcapil lists as dead (join, perturbed)",
            '{ dinsos { penerimaBansosAggregate(groupBy: [kecamatan], where: {program: {eq: "PKH"}, '
            "penduduk: {statusHidup: {eq: false}}}) { group { kecamatan } count perturbed } } }"),
    "Q2b": ("analyst", "recipients per programme by their resident's status (groupByRelated)",
            "{ dinsos { penerimaBansosAggregate(groupBy: [program], "
            "groupByRelated: {penduduk: [statusHidup]}) "
            "{ group { program penduduk { statusHidup } } count perturbed } } }"),
    "Q3": ("analyst", "budget lines above their SSH price",
           '{ bpkad { belanja(where: {hargaSatuan: {gtField: "ssh.harga"}}, first: 100) '
           "{ totalCount nodes { id hargaSatuan ssh { harga } } } } }"),
}  # fmt: skip
CLIENT_PAGE = (
    "query($after: String) { bpkad { belanja(first: 1000, after: $after) "
    "{ pageInfo { hasNextPage endCursor } nodes { id hargaSatuan ssh { harga } } } } }"
)
COUNTER = re.compile(r"^hub_source_requests_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--residents", type=int, default=50_000, help="demo residents (default 50,000)")
    p.add_argument("--requests", type=int, default=20, help="requests per question (default 20)")
    args = p.parse_args(argv)
    if args.requests < 1:
        p.error("need --requests >= 1")
    return args


def source_calls(client: httpx.Client) -> Counter[str]:
    """Source queries so far, by source, from the hub's /metrics."""
    out: Counter[str] = Counter()
    for line in client.get("/metrics").text.splitlines():
        m = COUNTER.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
            out[labels["source"]] += int(float(m["value"]))
    return out


def ask(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables or {}})
    body: dict[str, Any] = r.json()
    if r.status_code != 200 or "errors" in body:
        raise RuntimeError(f"{query[:80]}...: HTTP {r.status_code}: {r.text[:500]}")
    return body


def client_way(client: httpx.Client) -> int:
    """Q3 as a client without field comparisons does it: every line, compared here."""
    over, after = 0, None
    while True:
        page = ask(client, CLIENT_PAGE, {"after": after})["data"]["bpkad"]["belanja"]
        over += sum(1 for n in page["nodes"] if n["ssh"] and n["hargaSatuan"] > n["ssh"]["harga"])
        if not page["pageInfo"]["hasNextPage"]:
            return over
        after = page["pageInfo"]["endCursor"]


def measure(metrics: httpx.Client, work: Callable[[], Any], requests: int) -> tuple[float, Counter[str], Any]:
    """Median seconds per request, the source queries of one request, and its answer."""
    first = work()
    before = source_calls(metrics)
    again = work()
    calls = source_calls(metrics) - before
    if again != first:
        raise RuntimeError("the answer changed between two identical requests")
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), calls, first


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"date:    {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with (
        terminate_as_exit(),
        tempfile.TemporaryDirectory(prefix="hub-questions-") as name,
        Children() as kids,
    ):
        work = Path(name)
        from hub.demo.generate import generate

        print(f"generating {args.residents:,} residents ...", file=sys.stderr, flush=True)
        generate(work / "demo", residents=args.residents, progress=False)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "PYTHONPATH": str(REPO), "HUB_DEMO_DIR": str(work / "demo"), "HUB_LOG_LEVEL": "WARNING",
            "HUB_RATE_LIMIT_PUBLIC": "", "HUB_RATE_LIMIT_KEY": "",  # a bench is one client
            "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'hub.db'}", "HUB_AUDIT_KEY": "bench",
            "HUB_DISCLOSURE_KEY": "bench-questions",
        }  # fmt: skip
        schema, policies = REPO / "schema", REPO / "policies"
        keys = {}
        for who, subject in SUBJECTS.items():
            proc = kids.start(f"key {who}", [*HUB, "clients", "create", subject], env=env)
            out, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                print(f"FAILED: hub clients create {subject}: {err.decode()[-1000:]}", file=sys.stderr)
                return 1
            keys[who] = out.decode().strip()
        port, log = free_port(), work / "hub.log"
        argv = [*HUB, "serve", "--schema", str(schema), "--policies", str(policies), "--port", str(port)]
        proc = kids.start("hub", argv, env=env, log=log)
        wait_healthy("hub", proc, f"http://127.0.0.1:{port}/readyz", 120, log)
        base = f"http://127.0.0.1:{port}"
        clients = {
            who: httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"})
            for who, key in keys.items()
        }
        metrics = httpx.Client(base_url=base, timeout=30)
        try:
            rows = []
            seconds: dict[str, float] = {}
            answers: dict[str, Any] = {}
            for q, (who, what, query) in QUESTIONS.items():
                asking = partial(ask, clients[who], query)
                seconds[q], calls, answers[q] = measure(metrics, asking, args.requests)
                rows.append((q, who, what, seconds[q], calls))
            paging = partial(client_way, clients["analyst"])
            seconds["Q3c"], calls, over = measure(metrics, paging, max(3, args.requests // 5))
            rows.append(("Q3c", "analyst", "the same, every line paged to the client", seconds["Q3c"], calls))
        except RuntimeError as e:
            print(f"FAILED: {e}\n--- hub log (tail) ---\n{tail(log)}", file=sys.stderr)
            return 1
        finally:
            for c in [*clients.values(), metrics]:
                c.close()
    print("\nquestion  asked by  ms/request  source queries of one request  what")
    for q, who, what, s, calls in rows:
        by_source = ", ".join(f"{src} {n}" for src, n in sorted(calls.items())) or "none"
        print(f"{q:<9} {who:<9} {1000 * s:10.1f}  {by_source:<30}  {what}")
    q1 = answers["Q1"]["data"]["dinsos"]["penerimaBansos"]["totalCount"]
    q3 = answers["Q3"]["data"]["bpkad"]["belanja"]["totalCount"]
    same = q3 == over
    print(f"\nQ1: {q1:,} recipients; Q3: {q3:,} lines above their SSH price, the client's way {over:,}: "
          f"{'✓' if same else '✗'}")  # fmt: skip
    print(f"Q3c / Q3, time per answer: {seconds['Q3c'] / seconds['Q3']:.1f}x")
    print(f"load at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
