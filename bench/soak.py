"""The soak: two hub processes behind HAProxy, a mixed load from five subjects, faults
injected while it runs, the generated-query fuzzer on top; then every promise checked.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 12] [--rows 100000]
        [--recipients 20000] [--seed N] [--json PATH]

Set-up: Dukcapil's residents and Dinsos's recipients in two PostgreSQL databases (the
benchmarks' synthetic data), each reached through a fault endpoint (bench/soak_proxy.py,
a process of its own); a fresh PostgreSQL store (`hub_soak`) reached through a third;
two `hub serve` processes sharing store, cursor secret, audit and disclosure keys and
rate-limit counters (Redis); HAProxy running deploy/haproxy.cfg as shipped in front.
The load (bench/soak_load.py) goes through HAProxy only.

Phases, in shares of the run (10 minutes by default):

    warm-up        20%  each hub process asked directly for the largest answers a caller
                        may ask for (`largest`), then the load and the fuzzer (below):
                        every kind of request, so that what a process keeps (its caches,
                        and what CPython keeps after a request's peak) is reached;
                        memory is measured from its end
    steady         10%
    source-killed  10%  Dinsos's source endpoint killed (SIGKILL), restarted 40% in
    source-slow    10%  Dukcapil's source answers 300 ms late, every chunk
    store-down     10%  the store unreachable for 5 s (connections reset, refused)
    hub-killed     10%  one hub process killed (SIGKILL) and started again
    fuzz           15%  the suite's generated-query fuzzer (tests/support/fuzz.py) as
                        four callers, besides the load
    steady-end     15%

Checks, printed with the figures per phase (p50, p99, throughput, statuses, codes):
1. every error code documented; no 5xx but AUDIT_UNAVAILABLE during store-down;
2. no value of a field its subject may not read (`hub policy matrix --json`);
3. every answer that released non-public data has its audit record (request ids), every
   record is such an answer, a fuzz request, or one of the requests whose answer never
   reached its client (their number bounds the rest); `hub audit verify` passes;
4. each hub process's RSS at the end within 10% of its RSS after warm-up, or from when
   its document caches are full (`/metrics`) if that is later (the process started again
   during the run: asked for the largest answers at once, judged from the end of the
   fuzz phase, its first meeting with generated queries).
Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the fuzzer, answers
from children import Children, free_port, tail, terminate_as_exit, wait_healthy
from read_bench import load_average, load_data, machine
from servers import (
    BENCH,
    DATABASE,
    DINSOS,
    DINSOS_DATABASE,
    DUKCAPIL,
    REPO,
    SERVER,
    fresh_database,
    hub_command,
)
from soak_load import TEMPLATES, Data, Reply, Rules, Seen, codes_of, post, send, weighted
from synthetic import kecamatan_in, people_in

from hub.gql.service import DOCUMENT_CACHE_CHARS
from hub.settings import Settings

STORE = "hub_soak"
REDIS = "redis://127.0.0.1:6379/13"  # a database of the soak's own, emptied at the start
SHARED = {
    "HUB_CURSOR_SECRET": "soak-cursor-secret",
    "HUB_AUDIT_KEY": "soak-audit-key",
    "HUB_DISCLOSURE_KEY": "soak-disclosure-key",
    "HUB_REDIS_URL": REDIS,
    "HUB_RATE_LIMIT_PUBLIC": "1000000/minute",  # counted in Redis, shared, never reached
    "HUB_RATE_LIMIT_KEY": "1000000/minute",
    "HUB_LOG_LEVEL": "WARNING",
}
POLICY = """\
# soak: the callers of bench/soak_load.py
p, *, class:public, read, allow
p, opd:dinsos, dukcapil.penduduk.*, *, allow
p, user:verifier, dukcapil.penduduk.nik, match, allow
p, user:verifier, dukcapil.penduduk.nama, match, allow
p, user:counter, dinsos.penerima.program, aggregate, allow
p, user:counter, dinsos.penerima.nominal, aggregate, allow
p, public, dukcapil.penduduk.kecamatan, aggregate, allow
p, public, dukcapil.penduduk.jenis_kelamin, aggregate, allow
"""
SUBJECTS = ("opd:dukcapil", "opd:dinsos", "user:verifier", "user:counter")
PHASES = (  # name, share of the run
    ("warm-up", 0.20), ("steady", 0.10), ("source-killed", 0.10), ("source-slow", 0.10),
    ("store-down", 0.10), ("hub-killed", 0.10), ("fuzz", 0.15), ("steady-end", 0.15),
)  # fmt: skip
STORE_DOWN_SECONDS = 5.0
SLOW_MS = 300
RSS_TOLERANCE = 0.10
CACHE_METRIC = re.compile(r"^hub_document_cache_(chars|evictions_total)\{([^}]*)\} (\S+)$", re.M)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--minutes", type=float, default=10.0, help="length of the run (default 10)")
    p.add_argument("--clients", type=int, default=12, help="concurrent clients of the load (default 12)")
    p.add_argument("--rows", type=int, default=100_000, help="synthetic residents (default 100000)")
    p.add_argument("--recipients", type=int, default=20_000, help="synthetic recipients (default 20000)")
    p.add_argument("--seed", type=int, help="the load's and the fuzzer's seed (default: random, printed)")
    p.add_argument("--json", type=Path, help="also write the figures and every problem as JSON to this path")
    args = p.parse_args(argv)
    if args.minutes < 2 or not 1 <= args.clients <= 200:
        p.error("need --minutes >= 2 and 1 <= --clients <= 200")
    if shutil.which("haproxy") is None:
        p.error("haproxy not found: install Debian's haproxy package (`apt-get install haproxy`)")
    args.seed = random.randrange(2**32) if args.seed is None else args.seed
    return args


# --- the set-up ----------------------------------------------------------------------------


@dataclass
class Rig:
    """Everything the soak started, and how to reach it."""

    kids: Children
    tmp: Path
    env: dict[str, str]  # `hub serve`'s, store through its endpoint
    direct_store: str  # the store's URL without the endpoint (for checking afterwards)
    endpoints: dict[str, tuple[int, int, subprocess.Popen[bytes]]]  # name -> (port, target port, process)
    hubs: dict[str, tuple[int, subprocess.Popen[bytes]]] = field(default_factory=dict)
    lb: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)  # hub pid -> when it started (soak time)

    def endpoint(self, name: str, target_port: int, port: int | None = None) -> None:
        port = port or free_port()
        argv = [
            sys.executable,
            str(BENCH / "soak_proxy.py"),
            "--port",
            str(port),
            "--target",
            f"127.0.0.1:{target_port}",
        ]
        proc = self.kids.start(
            f"endpoint {name}", argv, stdin=subprocess.PIPE, log=self.tmp / f"endpoint-{name}.log"
        )
        deadline = time.monotonic() + 30
        while "ready" not in (self.tmp / f"endpoint-{name}.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"endpoint {name} did not start:\n{tail(self.tmp / f'endpoint-{name}.log')}"
                )
            time.sleep(0.05)
        self.endpoints[name] = (port, target_port, proc)

    def tell(self, name: str, command: str) -> None:
        proc = self.endpoints[name][2]
        assert proc.stdin is not None
        proc.stdin.write(f"{command}\n".encode())
        proc.stdin.flush()

    def start_hub(self, name: str, port: int | None = None, at: float = 0.0) -> None:
        port = port or free_port()
        where = ("--schema", str(self.tmp / "schema"), "--policies", str(self.tmp / "policies"))
        argv = [hub_command(), "serve", *where, "--port", str(port)]
        log = self.tmp / f"hub-{name}.log"
        proc = self.kids.start(f"hub {name}", argv, env=self.env, log=log)
        wait_healthy(f"hub {name}", proc, f"http://127.0.0.1:{port}/healthz", 120, log)
        self.hubs[name] = (port, proc)
        self.started[proc.pid] = at


def write_config(tmp: Path, dukcapil_port: int, dinsos_port: int) -> None:
    schema, policies = tmp / "schema", tmp / "policies"
    schema.mkdir()
    policies.mkdir()
    for name, text, database, port in (
        ("dukcapil", DUKCAPIL, DATABASE, dukcapil_port),
        ("dinsos", DINSOS, DINSOS_DATABASE, dinsos_port),
    ):
        spec = text.format(database=database).replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        (schema / f"{name}.yaml").write_text(spec)
    (policies / "model.conf").write_text((REPO / "policies" / "model.conf").read_text())
    (policies / "policy.csv").write_text(POLICY)


def hub_run(rig: Rig, *args: str) -> str:
    """`hub ARGS` on the store directly (not through its fault endpoint); its output."""
    env = {**rig.env, "HUB_DATABASE_URL": rig.direct_store}
    where = (
        ()
        if args[0] in ("clients", "audit")
        else ("--schema", str(rig.tmp / "schema"), "--policies", str(rig.tmp / "policies"))
    )
    argv = [hub_command(), *args, *where]
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=600, check=False, cwd=rig.tmp
    )
    if done.returncode != 0:
        raise RuntimeError(f"hub {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def set_up(kids: Children, tmp: Path) -> Rig:
    pg_port = int(SERVER.rsplit(":", 1)[1])
    direct = asyncio.run(fresh_database(STORE))
    rig = Rig(kids, tmp, {}, direct, {})
    for name in ("dukcapil", "dinsos", "store"):
        rig.endpoint(name, pg_port)
    write_config(tmp, rig.endpoints["dukcapil"][0], rig.endpoints["dinsos"][0])
    through = f"postgresql+asyncpg://postgres@127.0.0.1:{rig.endpoints['store'][0]}/{STORE}"
    rig.env = {**os.environ, **SHARED, "HUB_DATABASE_URL": through}
    redis.Redis.from_url(REDIS).flushdb()  # no guess budget or quota spent by an earlier run
    for subject in SUBJECTS:
        # the verifier's daily quota (100,000 records) would be spent in minutes
        quota = ("--match-quota", "100000000") if subject == "user:verifier" else ()
        made = hub_run(rig, "clients", "create", subject, "--name", "soak", *quota)
        rig.keys[subject] = made.strip().splitlines()[-1]
    for name in ("a", "b"):
        rig.start_hub(name)
    lb_port = free_port()
    lb_env = {
        **os.environ, "LB_BIND": f"127.0.0.1:{lb_port}", "LB_RATE": "1000000",
        "LB_HUB_A": f"127.0.0.1:{rig.hubs['a'][0]}", "LB_HUB_B": f"127.0.0.1:{rig.hubs['b'][0]}",
    }  # fmt: skip
    argv = ["haproxy", "-f", str(REPO / "deploy" / "haproxy.cfg"), "-db"]
    lb = kids.start("haproxy", argv, env=lb_env, log=tmp / "haproxy.log")
    wait_healthy("haproxy", lb, f"http://127.0.0.1:{lb_port}/healthz", 60, tmp / "haproxy.log")
    rig.lb = f"http://127.0.0.1:{lb_port}"
    return rig


# --- the rules ------------------------------------------------------------------------------


def rules_for(rig: Rig) -> Rules:
    """What each subject may not see, from the hub's own policy matrix and the sources' values."""
    secrets: dict[str, frozenset[str]] = {}
    hidden_niks: dict[str, bool] = {}
    values = asyncio.run(string_values())
    for subject in (*SUBJECTS, "public"):
        matrix = json.loads(hub_run(rig, "policy", "matrix", subject, "--json"))["fields"]
        released = {f for f, can in matrix.items() if can["read"] or can["aggregate"]}
        hidden: set[str] = set()
        shown: set[str] = set()
        for f, vals in values.items():
            (shown if f in released else hidden).update(vals)
        secrets[subject] = frozenset(v for v in hidden - shown if len(v) >= 8)
        hidden_niks[subject] = not any(f.endswith(".nik") for f in released)
    return Rules(secrets, hidden_niks)


async def string_values() -> dict[str, set[str]]:
    """Every string field's values in the sources (NIKs are looked for by their shape)."""
    fields = {
        "dukcapil.penduduk": (
            DATABASE, "penduduk", ("nama", "jenis_kelamin", "kecamatan", "kelurahan", "alamat", "pekerjaan"),
        ),
        "dinsos.penerima": (DINSOS_DATABASE, "penerima", ("program", "status")),
    }  # fmt: skip
    out: dict[str, set[str]] = {}
    for dataset, (database, table, columns) in fields.items():
        conn = await asyncpg.connect(f"{SERVER}/{database}")
        try:
            for column in columns:
                rows = await conn.fetch(f"SELECT DISTINCT {column} FROM {table}")
                out[f"{dataset}.{column}"] = {r[0] for r in rows if r[0] is not None}
        finally:
            await conn.close()
    return out


async def load_data_of() -> Data:
    kecamatan = await kecamatan_in(f"{SERVER}/{DATABASE}")
    conn = await asyncpg.connect(f"{SERVER}/{DINSOS_DATABASE}")
    try:
        pairs = await conn.fetch("SELECT DISTINCT program, tahun FROM penerima ORDER BY 1, 2")
    finally:
        await conn.close()
    people = await people_in(f"{SERVER}/{DATABASE}")
    return Data(kecamatan, [(r["program"], r["tahun"]) for r in pairs], people)


# --- the run --------------------------------------------------------------------------------


@dataclass
class Run:
    """What happens while the soak runs: the phase, what the clients saw, memory samples."""

    rig: Rig
    rules: Rules
    seed: int
    started: float = field(default_factory=time.monotonic)
    phase: str = PHASES[0][0]
    store_down: bool = False  # the store's endpoint is down, or was in the last seconds
    seen: list[Seen] = field(default_factory=list)
    # hub pid -> (soak time, RSS in bytes, its document caches)
    rss: dict[int, list[tuple[float, int, Fill]]] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def event(self, text: str) -> None:
        line = f"{self.now():7.1f} s  {self.phase:<13} {text}"
        self.events.append(line)
        print(line, flush=True)

    def record(self, seen: Seen, got: Reply, asked: str) -> None:
        with self.lock:
            self.seen.append(seen)
            self.rules.check(seen, got.body, got.text, asked, self.store_down)


async def client(run: Run, rnd: random.Random, data: Data) -> None:
    mix = weighted(TEMPLATES)
    keys = run.rig.keys
    async with httpx.AsyncClient(base_url=run.rig.lb, timeout=120) as http:
        while not run.stop.is_set():
            t = rnd.choice(mix)
            variables = data.variables(t, rnd)
            seen, got, asked = await send(http, t, keys.get(t.subject), variables, run.started, run.phase)
            run.record(seen, got, asked)


def rss_of(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def sample_memory(run: Run) -> None:
    """Every 2 s, each hub process's RSS and how full its document caches are (its own
    /metrics, not through the load balancer); an event when a process's caches are full."""
    full: set[int] = set()
    async with httpx.AsyncClient(timeout=5) as http:
        while not run.stop.is_set():
            for name, (port, proc) in list(run.rig.hubs.items()):
                rss = rss_of(proc.pid)
                fill = await cache_fill(http, port)
                if rss is None or fill is None:
                    continue
                run.rss.setdefault(proc.pid, []).append((run.now(), rss, fill))
                if fill.full and proc.pid not in full:
                    full.add(proc.pid)
                    run.event(f"hub {name} (pid {proc.pid}): document caches full ({fill})")
            await asyncio.sleep(2.0)


@dataclass(frozen=True)
class Fill:
    """A hub process's parsed-document caches (both schemas, documents and layouts)."""

    held: float  # their query text, as a share of what they may hold
    evicting: int  # how many of them have dropped an entry to stay within their bounds
    caches: int

    @property
    def full(self) -> bool:
        return self.caches > 0 and self.evicting == self.caches

    def __str__(self) -> str:
        return f"{self.held:.0%} of their text bound, {self.evicting} of {self.caches} evicting"


async def cache_fill(http: httpx.AsyncClient, port: int) -> Fill | None:
    try:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return None  # killed, or not yet listening: no sample
    found: dict[str, dict[str, float]] = {"chars": {}, "evictions_total": {}}
    for name, labels, value in CACHE_METRIC.findall(text):
        found[name][labels] = float(value)
    held, evicted = found["chars"], found["evictions_total"]
    return Fill(
        sum(held.values()) / (DOCUMENT_CACHE_CHARS * max(1, len(held))),
        sum(1 for v in evicted.values() if v > 0),
        len(held),
    )


async def conduct(run: Run, total: float) -> None:
    """Move through the phases, injecting each one's fault at its start."""
    rig = run.rig
    for name, share in PHASES:
        run.phase = name
        length = total * share
        ends = run.now() + length
        run.event("begins")
        if name == "source-killed":
            port, target, proc = rig.endpoints["dinsos"]
            proc.kill()
            proc.wait()
            run.event("Dinsos's source endpoint killed")
            await asyncio.sleep(length * 0.4)
            await asyncio.to_thread(rig.endpoint, "dinsos", target, port)
            run.event("Dinsos's source endpoint started again")
        elif name == "source-slow":
            rig.tell("dukcapil", f"slow {SLOW_MS}")
            run.event(f"Dukcapil's source answers {SLOW_MS} ms late")
            await asyncio.sleep(max(0.0, ends - run.now()))
            rig.tell("dukcapil", "fast")
            run.event("Dukcapil's source at full speed again")
        elif name == "store-down":
            run.store_down = True
            rig.tell("store", "down")
            run.event(f"store unreachable for {STORE_DOWN_SECONDS:g} s")
            await asyncio.sleep(STORE_DOWN_SECONDS)
            rig.tell("store", "up")
            run.event("store reachable again")
            await asyncio.sleep(2.0)  # answers already on their way when it came back
            run.store_down = False
        elif name == "hub-killed":
            port, proc = rig.hubs["b"]
            proc.kill()
            proc.wait()
            run.event(f"hub b (pid {proc.pid}) killed")
            await asyncio.to_thread(rig.start_hub, "b", port, run.now())
            run.event(f"hub b started again (pid {rig.hubs['b'][1].pid})")
            await asyncio.to_thread(largest, run, ["b"])  # its warm-up begins
        if name == "warm-up":
            await asyncio.to_thread(largest, run, sorted(rig.hubs))
        if name in ("warm-up", "fuzz"):  # warm-up too: every kind of request before memory counts
            await asyncio.to_thread(fuzz, run, ends, 0 if name == "fuzz" else 1_000_000)
        await asyncio.sleep(max(0.0, ends - run.now()))
    run.stop.set()


async def soak(run: Run, data: Data, args: argparse.Namespace) -> None:
    rnd = random.Random(args.seed)
    tasks = [asyncio.create_task(client(run, random.Random(rnd.random()), data)) for _ in range(args.clients)]
    memory = asyncio.create_task(sample_memory(run))
    try:
        await conduct(run, args.minutes * 60)
    finally:
        run.stop.set()
        await asyncio.gather(*tasks, memory)


# --- the largest answers -------------------------------------------------------------------

# What one Dinsos request may ask for at most: `max_fields` selections (aliases of a page
# of `max_first` rows, every field), its own recipients with each one's resident joined in
# from Dukcapil, and Dukcapil's residents alone.
PENDUDUK_FIELDS = "nik nama jenisKelamin tanggalLahir kecamatan kelurahan alamat pekerjaan statusHidup"
PENERIMA_FIELDS = f"id nik program nominal tahun status penduduk {{ {PENDUDUK_FIELDS} }}"


def largest_queries() -> list[tuple[str, tuple[str, str]]]:
    """(query, the root its data comes under) for each of the two largest reads."""
    limits = Settings.model_fields
    fields, first = limits["max_fields"].default, limits["max_first"].default
    out = []
    for opd, dataset, selection in (
        ("dukcapil", "penduduk", PENDUDUK_FIELDS),
        ("dinsos", "penerima", PENERIMA_FIELDS),
    ):
        per_alias = 2 + len(selection.replace("{", " ").replace("}", " ").split())  # page, nodes, fields
        pages = " ".join(
            f"p{n}: {dataset}(first: {first}) {{ nodes {{ {selection} }} }}"
            for n in range((fields - 1) // per_alias)
        )
        out.append((f"{{ {opd} {{ {pages} }} }}", (opd, "p0")))
    return out


def largest(run: Run, names: Iterable[str]) -> None:
    """Each hub process named, directly, the largest answers a caller may ask for (once
    each): the memory CPython keeps after a request's peak (the arenas its objects were
    spread over) is reached in its warm-up, not first in a later phase by a large
    generated query (without these, RSS rose ~15% in the fuzz phase and stayed)."""
    key = run.rig.keys["opd:dinsos"]
    with httpx.Client(timeout=300) as http:
        for name in names:
            port, _ = run.rig.hubs[name]
            for query, root in largest_queries():
                asked = json.dumps({"query": query})
                t0, got = post(http, f"http://127.0.0.1:{port}/graphql", asked, key)
                data = (got.body or {}).get("data") or {}
                released = got.status == 200 and (data.get(root[0]) or {}).get(root[1]) is not None
                seen = Seen(
                    t0 - run.started, run.phase, f"largest {root[0]}", "opd:dinsos", got.status, got.seconds,
                    got.request_id, codes_of(got.body), released, broken=got.broken,
                )  # fmt: skip
                run.record(seen, got, asked)
                run.event(f"hub {name}: largest {root[0]} read, {len(got.text):,} bytes, status {got.status}")


# --- fuzzing under load ---------------------------------------------------------------------


def fuzz(run: Run, until: float, seeds: int) -> None:
    """The suite's generated queries (tests/support/fuzz.py's strategy, from each caller's
    own schema) through the load balancer, as four callers in turn, until `until`."""
    import graphql
    from hypothesis import seed as with_seed

    callers = [("public", "/public/graphql", None)] + [
        (s, "/graphql", run.rig.keys[s]) for s in ("user:verifier", "user:counter", "opd:dinsos")
    ]
    sent = Counter[str]()
    with httpx.Client(base_url=run.rig.lb, timeout=120) as http:
        schemas = {}
        for subject, path, key in callers:
            headers = {"authorization": f"Bearer {key}"} if key else {}
            r = http.post(path, json={"query": graphql.get_introspection_query()}, headers=headers)
            schemas[subject] = graphql.build_client_schema(r.json()["data"])
        batch = 0
        while run.now() < until:
            subject, path, key = callers[batch % len(callers)]
            batch += 1
            test = fuzz_batch(run, http, until, schemas[subject], subject, path, key, sent)
            with_seed(run.seed + seeds + batch)(test)()
    run.event("fuzzer: " + ", ".join(f"{s} {n}" for s, n in sent.items()) + " generated queries")


def fuzz_batch(
    run: Run, http: httpx.Client, until: float, schema: Any, subject: str, path: str, key: str | None,
    sent: Counter[str],
) -> Any:  # fmt: skip
    """25 generated queries as `subject`, each sent, recorded and checked like the load's."""
    from hypothesis import HealthCheck, given, settings

    from tests.support.fuzz import strategy

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(query=strategy(schema))
    def one(query: str) -> None:
        if run.now() >= until:
            return
        asked = json.dumps({"query": query})
        t0, got = post(http, path, asked, key)
        seen = Seen(t0 - run.started, run.phase, "fuzz", subject, got.status, got.seconds, got.request_id,
                    codes_of(got.body), False, fuzz=True, broken=got.broken)  # fmt: skip
        run.record(seen, got, asked)
        sent[subject] += 1

    return one


# --- the checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    held: bool
    detail: str


def check_audit(run: Run) -> list[Check]:
    """Records against the answers that released non-public data, by request id."""
    records = asyncio.run(audit_ids(run.rig.direct_store))
    released = {s.request_id for s in run.seen if s.released and s.request_id}
    fuzzed = {s.request_id for s in run.seen if s.fuzz and s.request_id}
    withheld = {s.request_id for s in run.seen if not s.released and not s.fuzz and s.request_id}
    lost = sum(1 for s in run.seen if s.status == 0 or (s.status in (502, 504) and not s.request_id))
    missing = released - records
    unexplained = records - released - fuzzed
    wrong = records & withheld
    verified = hub_run(run.rig, "audit", "verify").strip()
    return [
        Check(
            "every answer that released non-public data has its audit record",
            not missing, f"{len(released):,} such answers, {len(missing)} without a record",
        ),
        Check(
            "no record of an answer that released nothing non-public",
            not wrong, f"{len(wrong)} records of such answers",
        ),
        Check(
            "records of no answer seen: at most the requests whose answer never arrived",
            len(unexplained) <= lost,
            f"{len(records):,} records; {len(unexplained)} of answers no client received; "
            f"{lost} answers lost "
            f"({len(fuzzed & records)} records of fuzz requests)",
        ),
        Check("hub audit verify", verified.startswith("audit log intact"), verified),
    ]  # fmt: skip


async def audit_ids(url: str) -> set[str]:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return {r["request_id"] for r in await conn.fetch("SELECT request_id FROM audit_log")}
    finally:
        await conn.close()


def memory_table(run: Run, total: float) -> str:
    """Each hub process's RSS (MiB) at the end of each phase it lived through."""
    ends, at = [], 0.0
    for name, share in PHASES:
        at += total * share
        ends.append((name, at))
    rows = [f"  {'pid':>7} " + " ".join(f"{name[:11]:>11}" for name, _ in ends)]
    for pid, samples in run.rss.items():
        cells = []
        for _, end in ends:
            before = [rss for t, rss, _ in samples if t <= end]
            alive_then = before and samples[-1][0] >= end - 5
            cells.append(f"{before[-1] / 2**20:>11.0f}" if alive_then else f"{'-':>11}")
        rows.append(f"  {pid:>7} " + " ".join(cells))
    return "\n".join(rows)


def errors_logged(rig: Rig) -> list[str]:
    """The hubs' log records at ERROR and above (JSON lines: no values in them)."""
    found = []
    for log in sorted(rig.tmp.glob("hub-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if '"level":"ERROR"' in line or '"level":"CRITICAL"' in line:
                found.append(f"{log.name}: {line[:3000]}")
    return found


def check_memory(run: Run, total: float) -> Check:
    """Each hub process's RSS at its last sample against its first after warm-up: after
    the warm-up phase (the process started during the run: after the fuzz phase, its own
    warm-up) and once its document caches are full, if they ever are. Growth before that
    is the caches filling to their bounds (hub/gql/service.py), not a leak."""
    warm = total * PHASES[0][1]
    fuzzed = total * sum(share for _, share in PHASES[: [n for n, _ in PHASES].index("fuzz") + 1])
    lines, held = [], True
    for pid, samples in run.rss.items():
        since = fuzzed if run.rig.started.get(pid, 0.0) > 0 else warm
        filled = next((t for t, _, fill in samples if fill.full), None)
        since = max(since, filled) if filled is not None else since
        after = [(rss, fill) for t, rss, fill in samples if t >= since]
        if len(after) < 10:
            lived = samples[-1][0] - samples[0][0]
            lines.append(f"pid {pid}: not judged (lived {lived:.0f} s, gone before {since:.0f} s)")
            continue
        growth = after[-1][0] / after[0][0] - 1
        ok = abs(growth) <= RSS_TOLERANCE
        held &= ok
        mib = f"{after[0][0] / 2**20:.0f} -> {after[-1][0] / 2**20:.0f} MiB"
        caches = "caches full" if filled is not None else f"caches never full: {after[0][1]} at first"
        lines.append(f"pid {pid}: {mib} ({growth:+.1%}) from {since:.0f} s, {caches}")
    return Check(
        f"RSS of each hub process flat within {RSS_TOLERANCE:.0%} after warm-up", held, "; ".join(lines)
    )


def checks(run: Run, total: float) -> list[Check]:
    problems = run.rules.problems_found
    out = [
        Check(
            "only documented error codes; no 5xx but AUDIT_UNAVAILABLE while the store is down; "
            "no value a subject may not read",
            not problems, f"{len(problems)} problems" + "".join(f"\n      {p}" for p in problems[:10]),
        )
    ]  # fmt: skip
    return out + check_audit(run) + [check_memory(run, total)]


# --- the report -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def phase_table(run: Run, total: float) -> str:
    rows = [
        f"  {'phase':<14} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses; error codes"
    ]
    for name, share in PHASES:
        seen = [s for s in run.seen if s.phase == name]
        seconds = [s.seconds * 1000 for s in seen]
        statuses = Counter(f"{s.status}" if s.status else f"0 ({s.broken.split(':')[0]})" for s in seen)
        codes = Counter(c for s in seen for c in s.codes)
        status_text = " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
        code_text = " ".join(f"{k}:{v}" for k, v in sorted(codes.items())) or "none"
        rows.append(
            f"  {name:<14} {len(seen):>9,} {len(seen) / (total * share):>7.1f}"
            f" {percentile(seconds, 0.5):>8.1f}"
            f" {percentile(seconds, 0.99):>8.1f}  {status_text}; {code_text}"
        )
    return "\n".join(rows)


def header(args: argparse.Namespace, info: dict[str, Any], command: str, date: str) -> str:
    return "\n".join(
        [
            f"date:    {date}",
            f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']} ({info['platform']})",
            f"command: {command}",
            f"load:    {info['load_at_start']} (1/5/15-min load average at start)",
            f"run:     {args.minutes:g} min, {args.clients} clients, seed {args.seed}, "
            "two hub processes behind "
            "HAProxy (deploy/haproxy.cfg), PostgreSQL store and sources behind fault endpoints",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    info = machine()
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = header(args, info, command, date)
    print(head, flush=True)
    total = args.minutes * 60
    with terminate_as_exit(), Children() as kids, tempfile.TemporaryDirectory(prefix="hub-soak-") as name:
        tmp = Path(name)
        try:
            asyncio.run(load_data(args))
            data = asyncio.run(load_data_of())
            rig = set_up(kids, tmp)
            print(
                f"set up: hubs on ports {', '.join(str(p) for p, _ in rig.hubs.values())}, HAProxy {rig.lb}"
            )
            run = Run(rig, rules_for(rig), args.seed)
            asyncio.run(soak(run, data, args))
            for _, proc in rig.hubs.values():
                kids.stop(proc, grace=30)
            found = checks(run, total)
            logged = errors_logged(rig)
        except RuntimeError as e:
            print(f"\nFAILED: {e}", file=sys.stderr)
            for log in sorted(tmp.glob("*.log")):
                print(f"--- {log.name} (tail) ---\n{tail(log)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; child processes stopped", file=sys.stderr)
            return 130
    broken = [f"{s.at:7.1f} s  {s.phase:<13} {s.template}: {s.broken}" for s in run.seen if s.broken]
    print(f"\n{head}\nload at end: {load_average()}\n\nphases:\n{phase_table(run, total)}")
    print(f"\nRSS of each hub process at the end of each phase, MiB:\n{memory_table(run, total)}")
    print(f"\nanswers that never arrived: {len(broken)}" + "".join(f"\n  {line}" for line in broken[:10]))
    internal = sum("internal error" in line for line in logged)
    shown = sorted(logged, key=lambda line: "internal error" not in line)[:5]  # with their stack, first
    print(f"\nthe hubs' log records at ERROR: {len(logged)}, {internal} of internal errors")
    print("".join(f"  {line}\n" for line in shown), end="")
    print("\nchecks:")
    for c in found:
        print(f"  [{'held' if c.held else 'FAILED'}] {c.name}: {c.detail}")
    held = all(c.held for c in found)
    print(f"\n{'every check held' if held else 'SOME CHECKS FAILED'}")
    if args.json:
        figures = {
            "date": date, "machine": info, "command": command,
            "args": {k: str(v) for k, v in vars(args).items()},
            "events": run.events, "checks": [asdict(c) for c in found], "problems": run.rules.problems_found,
            "phases": phase_table(run, total).splitlines(),
        }  # fmt: skip
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
