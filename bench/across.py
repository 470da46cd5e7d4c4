"""One cross-agency question across two database servers, against the same question as
one SQL statement and against paging through the API: "PKH recipients per kecamatan
who are dead".

    .venv/bin/python bench/across.py [--residents 100000] [--recipients 20000]
        [--requests 30] [--slices 6] [--seed 20261128]

Generates the demo's residents (`hub.demo.people`) and, from them, about `--recipients`
welfare recipients (`hub.demo.welfare`, a larger share of the residents than the demo's
5.5 %; as there, about 3 % of their NIKs are unknown to Dukcapil and 2 % belong to the
dead). Copies them, with the demo files' keys and indexes and the catalog's types, into
scratch databases on the local servers, dropped at the end:

    split  residents on PostgreSQL (127.0.0.1:5432, user postgres), recipients on
           MariaDB (127.0.0.1:3306, user root): the hub's sources
    floor  both tables in one PostgreSQL database

and serves the demo catalog and policy with `hub serve`, dukcapil's and dinsos's sources
pointing at the split databases (the other OPDs stay on a small demo's SQLite files).
The policy adds one subject, user:bench, who may read both datasets (exact answers);
user:rina is the demo's analyst (`join` on both NIKs, `aggregate` on the status:
perturbed answers). Five ways to the same answer, each asked `--requests` times in
`--slices` slices that alternate their order (A B C D E, E D C B A, ...) so that the
shared machine's changing load falls on each alike:

    floor    one SQL statement on the floor database (asyncpg, prepared once):
             SELECT b.kecamatan, count(*) FROM penerima_bansos b JOIN penduduk p
             ON p.nik = b.nik WHERE b.program = 'PKH' AND NOT p.is_alive GROUP BY 1
    hub      user:bench asks `penerimaBansosAggregate(groupBy: [kecamatan], where:
             {program: {eq: "PKH"}, penduduk: {statusHidup: {eq: false}}})`
    analyst  user:rina asks the same (perturbed by the cell-key method)
    client   user:bench pages every PKH recipient, 1,000 a page, with `kecamatan` and
             `penduduk { statusHidup }` (the hub follows the relationship per page),
             and counts the dead per kecamatan itself
    everything  user:bench pages both datasets whole, 1,000 a page (recipients'
             `nik program kecamatan`, residents' `nik statusHidup`), and joins them
             itself: the way without relationships at all

The two client ways are asked `max(--slices, --requests / 5)` times (they take
seconds). Prints, per way, the median time per request, its ratio to the floor, and
the source queries of one request by source (the hub's /metrics); the issue's two
targets, marked ✓ or ✗: hub <= 3x the floor's time, and hub >= 10x faster than
paging everything; client / hub; and the hub's own mean time per request and per
source call (from /metrics: what the HTTP round trip does not include). Exits 1 when
an answer has errors, changes between two asks, or the hub's, the clients' and the
floor's counts differ, or a perturbed count is more than max_noise (2) from the true
one or a true count of 1-4 is published as itself; the time targets only mark.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml
from children import Children, free_port, tail, terminate_as_exit, wait_healthy
from disclosure import HUB, Scratch, copied, run
from questions import source_calls

REPO = Path(__file__).resolve().parents[1]
SEED = 20261128  # the demo's
TARGET_FLOOR, TARGET_CLIENT = 3.0, 10.0
MAX_NOISE, SMALL = 2, range(1, 5)
FLOOR_SQL = (
    "SELECT b.kecamatan, count(*) FROM penerima_bansos b JOIN penduduk p ON p.nik = b.nik "
    "WHERE b.program = 'PKH' AND NOT p.is_alive GROUP BY b.kecamatan"
)
QUESTION = (
    '{ dinsos { penerimaBansosAggregate(groupBy: [kecamatan], where: {program: {eq: "PKH"}, '
    "penduduk: {statusHidup: {eq: false}}}) { group { kecamatan } count perturbed } } }"
)
PAGE = (
    "query($after: String) { dinsos { penerimaBansos(first: 1000, after: $after, "
    'where: {program: {eq: "PKH"}}) '
    "{ pageInfo { hasNextPage endCursor } nodes { kecamatan penduduk { statusHidup } } } } }"
)
EVERYTHING = {  # the client's way without any relationship: both datasets, page by page
    "recipients": (
        "query($after: String) { dinsos { penerimaBansos(first: 1000, after: $after) "
        "{ pageInfo { hasNextPage endCursor } nodes { nik program kecamatan } } } }",
        ("dinsos", "penerimaBansos"),
    ),
    "residents": (
        "query($after: String) { dukcapil { penduduk(first: 1000, after: $after) "
        "{ pageInfo { hasNextPage endCursor } nodes { nik statusHidup } } } }",
        ("dukcapil", "penduduk"),
    ),
}
BENCH_RULES = """
# bench/across.py: a reader of both datasets, for exact answers
p, user:bench, dinsos.penerima_bansos.*, read, allow
p, user:bench, dukcapil.penduduk.*, read, allow
"""
Answer = dict[str, int]  # kecamatan -> count


class Failed(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--residents", type=int, default=100_000, help="residents (default 100,000)")
    p.add_argument("--recipients", type=int, default=20_000, help="recipients, about (default 20,000)")
    p.add_argument("--requests", type=int, default=30, help="requests per way (default 30)")
    p.add_argument("--slices", type=int, default=6, help="alternating slices per way (default 6)")
    p.add_argument("--seed", type=int, default=SEED, help=f"data seed (default {SEED}, the demo's)")
    args = p.parse_args(argv)
    if args.residents < 500 or args.recipients < 100 or args.requests < 1 or args.slices < 1:
        p.error("need --residents >= 500, --recipients >= 100, --requests >= 1, --slices >= 1")
    return args


def generate(data: Path, residents: int, recipients: int, seed: int) -> tuple[int, int]:
    """dukcapil.db and dinsos.db in `data`, as the demo writes them; their row counts."""
    from hub.demo import people, welfare
    from hub.demo.tables import write

    register = people.residents(random.Random(f"{seed}/penduduk"), residents)
    # rows = about 1.1 x the recipients drawn (one in ten gets a second programme)
    share = recipients / (1.1 * residents)
    grants = welfare.penerima_bansos_table(random.Random(f"{seed}/penerima_bansos"), register, share=share)
    write(data / "dukcapil.db", [people.penduduk_table(register)], lambda *_: None)
    write(data / "dinsos.db", [grants], lambda *_: None)
    return len(register), len(grants.rows)


def catalog(work: Path, urls: dict[str, str]) -> Path:
    """The demo catalog with dukcapil's and dinsos's source at `urls` (file stem -> URL)."""
    schema = work / "schema"
    shutil.copytree(REPO / "schema", schema)
    for stem, url in urls.items():
        path = schema / f"{stem}.yaml"
        spec = yaml.safe_load(path.read_text())
        (source,) = {d["source"] for d in spec["datasets"].values()}
        spec["sources"][source]["url"] = url
        path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return schema


def policies(work: Path) -> Path:
    out = work / "policies"
    shutil.copytree(REPO / "policies", out)
    with (out / "policy.csv").open("a") as f:
        f.write(BENCH_RULES)
    return out


def answer(body: dict[str, Any]) -> Answer:
    if body.get("errors") or not body.get("data"):
        raise Failed(f"errors in the answer: {str(body.get('errors'))[:500]}")
    groups = body["data"]["dinsos"]["penerimaBansosAggregate"]
    return {g["group"]["kecamatan"]: g["count"] for g in groups}


SECONDS = re.compile(r'^hub_(request|source)_seconds_(sum|count)\{(?:route|source)="([^"]*)"\} ([0-9.e+-]+)$')


def seconds_in(metrics: httpx.Client) -> dict[str, float]:
    """The hub's own seconds and counts so far, of /graphql requests and per source."""
    out: dict[str, float] = {}
    for line in metrics.get("/metrics").text.splitlines():
        m = SECONDS.match(line)
        if m:
            out[f"{m[1]} {m[3]} {m[2]}"] = float(m[4])
    return out


def ask(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables or {}})
    if r.status_code != 200:
        raise Failed(f"HTTP {r.status_code}: {r.text[:500]}")
    body: dict[str, Any] = r.json()
    return body


def client_way(client: httpx.Client) -> Answer:
    """The question without relationship filters: every PKH recipient paged, counted here."""
    dead: Counter[str] = Counter()
    after = None
    while True:
        body = ask(client, PAGE, {"after": after})
        if body.get("errors"):
            raise Failed(f"errors in a page: {str(body['errors'])[:500]}")
        page = body["data"]["dinsos"]["penerimaBansos"]
        dead.update(
            n["kecamatan"] for n in page["nodes"] if n["penduduk"] and n["penduduk"]["statusHidup"] is False
        )
        if not page["pageInfo"]["hasNextPage"]:
            return dict(dead)
        after = page["pageInfo"]["endCursor"]


def pages(client: httpx.Client, query: str, path: tuple[str, str]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        body = ask(client, query, {"after": after})
        if body.get("errors"):
            raise Failed(f"errors in a page: {str(body['errors'])[:500]}")
        page = body["data"][path[0]][path[1]]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def client_everything(client: httpx.Client) -> Answer:
    """The question as a client answers it from both datasets paged whole, joined here."""
    alive = {p["nik"]: p["statusHidup"] for p in pages(client, *EVERYTHING["residents"])}
    dead = Counter(
        r["kecamatan"]
        for r in pages(client, *EVERYTHING["recipients"])
        if r["program"] == "PKH" and alive.get(r["nik"]) is False
    )
    return dict(dead)


def timed(
    ways: dict[str, Callable[[], Answer]], counts: dict[str, int], slices: int
) -> dict[str, list[float]]:
    """Seconds per request of each way (`counts` of them), asked in alternating slices;
    each answer must be the first one it gave."""
    first = {name: way() for name, way in ways.items()}
    times: dict[str, list[float]] = {name: [] for name in ways}
    order = list(ways)
    for s in range(slices):
        for name in order if s % 2 == 0 else order[::-1]:
            requests = counts[name]
            n = requests // slices + (1 if s < requests % slices else 0)
            for _ in range(n):
                start = time.perf_counter()
                got = ways[name]()
                times[name].append(time.perf_counter() - start)
                if got != first[name]:
                    raise Failed(f"{name}: the answer changed between two asks")
    return times


def checked(answers: dict[str, Answer]) -> list[str]:
    """What is wrong with the answers (none: an empty list)."""
    truth = answers["floor"]
    problems = [
        f"{way} answers {got}, the floor {truth}"
        for way in ("hub", "client", "everything")
        if (got := answers[way]) != truth
    ]
    perturbed = answers["analyst"]
    for kecamatan in set(truth) | set(perturbed):
        true, published = truth.get(kecamatan, 0), perturbed.get(kecamatan, 0)
        if abs(true - published) > MAX_NOISE:
            problems.append(f"analyst: {kecamatan} published {published}, true {true}")
        if true in SMALL and published == true:
            problems.append(f"analyst: {kecamatan}'s small count published as itself")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"date:    {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    scratch = {
        "residents": Scratch("postgresql"),
        "recipients": Scratch("mariadb"),
        "floor": Scratch("postgresql"),
    }
    with terminate_as_exit(), tempfile.TemporaryDirectory(prefix="hub-across-") as name, Children() as kids:
        work = Path(name)
        data, demo = work / "data", work / "demo"
        data.mkdir()
        print(
            f"generating {args.residents:,} residents and their recipients ...", file=sys.stderr, flush=True
        )
        people, grants = generate(data, args.residents, args.recipients, args.seed)
        from hub.demo.generate import generate as demo_files

        demo_files(demo, residents=500, progress=False)  # the other OPDs' files
        tables = {t.opd: t for t in copied(REPO / "schema", data)}
        try:
            print("loading PostgreSQL and MariaDB ...", file=sys.stderr, flush=True)

            async def load() -> None:
                for s in scratch.values():
                    await s.create()
                await scratch["residents"].load(data, [tables["dukcapil"]])
                await scratch["recipients"].load(data, [tables["dinsos"]])
                await scratch["floor"].load(data, [tables["dukcapil"], tables["dinsos"]])

            asyncio.run(load())
            return measure(args, kids, work, demo, scratch, people, grants)
        except Failed as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        finally:

            async def drop() -> None:
                for s in scratch.values():
                    await s.drop()

            asyncio.run(drop())


def measure(
    args: argparse.Namespace, kids: Children, work: Path, demo: Path, scratch: dict[str, Scratch],
    people: int, grants: int,
) -> int:  # fmt: skip
    schema = catalog(work, {"dukcapil": scratch["residents"].url, "dinsos": scratch["recipients"].url})
    rules = policies(work)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "PYTHONPATH": str(REPO), "HUB_DEMO_DIR": str(demo), "HUB_LOG_LEVEL": "WARNING",
        "HUB_RATE_LIMIT_PUBLIC": "", "HUB_RATE_LIMIT_KEY": "",  # a bench is one client
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'hub.db'}", "HUB_AUDIT_KEY": "bench",
        "HUB_DISCLOSURE_KEY": "bench-across",
    }  # fmt: skip
    run(kids, "check", [*HUB, "check", "--schema", str(schema), "--policies", str(rules)], env)
    keys = {who: run(kids, f"key {who}", [*HUB, "clients", "create", who], env).strip()
            for who in ("user:bench", "user:rina")}  # fmt: skip
    port, log = free_port(), work / "hub.log"
    argv = [*HUB, "serve", "--schema", str(schema), "--policies", str(rules), "--port", str(port)]
    proc = kids.start("hub", argv, env=env, log=log)
    wait_healthy("hub", proc, f"http://127.0.0.1:{port}/readyz", 120, log)
    base = f"http://127.0.0.1:{port}"
    bench, rina = (
        httpx.Client(base_url=base, timeout=300, headers={"Authorization": f"Bearer {keys[who]}"})
        for who in ("user:bench", "user:rina")
    )
    metrics = httpx.Client(base_url=base, timeout=30)
    loop = asyncio.new_event_loop()
    floor_db = loop.run_until_complete(
        asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database=scratch["floor"].name)
    )
    try:
        statement = loop.run_until_complete(floor_db.prepare(FLOOR_SQL))

        def floor() -> Answer:
            return {k: n for k, n in loop.run_until_complete(statement.fetch())}

        ways: dict[str, Callable[[], Answer]] = {
            "floor": floor,
            "hub": lambda: answer(ask(bench, QUESTION)),
            "analyst": lambda: answer(ask(rina, QUESTION)),
            "client": lambda: client_way(bench),
            "everything": lambda: client_everything(bench),
        }
        seconds_before = seconds_in(metrics)
        calls: dict[str, Counter[str]] = {}
        answers: dict[str, Answer] = {}
        for name in ("hub", "analyst", "client", "everything"):
            before = source_calls(metrics)
            answers[name] = ways[name]()
            calls[name] = source_calls(metrics) - before
        answers["floor"] = floor()
        print(
            f"measuring {args.requests} requests per way in {args.slices} slices ...",
            file=sys.stderr,
            flush=True,
        )
        slow = max(args.slices, args.requests // 5)  # the client's ways take seconds
        counts = {name: slow if name in ("client", "everything") else args.requests for name in ways}
        times = timed(ways, counts, args.slices)
        inside = {k: v - seconds_before.get(k, 0.0) for k, v in seconds_in(metrics).items()}
    except (Failed, httpx.HTTPError) as e:
        raise Failed(f"{e}\n--- hub log (tail) ---\n{tail(log)}") from e
    finally:
        loop.run_until_complete(floor_db.close())
        loop.close()
        for c in (bench, rina, metrics):
            c.close()
    problems = checked(answers)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    dead, places = sum(answers["floor"].values()), len(answers["floor"])
    print(f"\n{people:,} residents (PostgreSQL), {grants:,} recipients (MariaDB); "
          f"{dead:,} dead PKH recipients in {places} kecamatan")  # fmt: skip
    print("\nway        ms/request  / floor  source queries of one request")
    for name in ways:
        by_source = ", ".join(f"{src} {n}" for src, n in sorted(calls.get(name, Counter()).items())) or "-"
        print(f"{name:<10} {1000 * median[name]:10.1f}  {median[name] / median['floor']:6.2f}x  {by_source}")
    over_floor, under_client = median["hub"] / median["floor"], median["everything"] / median["hub"]
    print(f"\nhub / floor, time per answer: {over_floor:.2f}x (target <= {TARGET_FLOOR:g}x) "
          f"{'✓' if over_floor <= TARGET_FLOOR else '✗'}")  # fmt: skip
    print(f"everything / hub, time per answer: {under_client:.1f}x (target >= {TARGET_CLIENT:g}x) "
          f"{'✓' if under_client >= TARGET_CLIENT else '✗'}")  # fmt: skip
    print(f"client / hub, time per answer: {median['client'] / median['hub']:.1f}x")
    print("inside the hub, mean ms per call:", ", ".join(
        f"{k.removesuffix(' sum')} {1000 * v / inside[k.replace(' sum', ' count')]:.1f}"
        for k, v in sorted(inside.items()) if k.endswith(" sum") and inside.get(k.replace(" sum", " count"))
    ))  # fmt: skip
    print(f"load at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for p in problems:
        print(f"FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
