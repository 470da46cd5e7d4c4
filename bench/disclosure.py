"""Aggregates perturbed by the cell-key method against the same aggregates suppressed:
the cost per request, measured side by side in one run, and what the perturbed counts
and sums are worth against the true ones.

    .venv/bin/python bench/disclosure.py [--source sqlite|postgresql|mariadb|all] [--rounds 5]
        [--requests N] [--residents 50000]

Generates the demo regency once and serves it from two `hub serve` processes (each its
own SQLite store): `perturbed` with the demo catalog as it is (`disclosure: {method:
cell_key}`, the default), `suppressed` with the same catalog but `disclosure: {method:
suppress}` on dinsos.penerima_bansos and dukcapil.penduduk. `--source` says where those
two datasets live: the demo's SQLite files (`sqlite`, the default: SQLite lists each
group's keys, the hub hashes them), or a copy of both tables (same columns, rows,
primary keys and indexes; the catalog's types) in a scratch database on the local
PostgreSQL (127.0.0.1:5432, user postgres) or MariaDB (127.0.0.1:3306, user root), where
the statement computes it (`hashtextextended`, `CRC32(SHA1(...))`), dropped at the end;
`all` runs each in turn.
The other OPDs stay on their SQLite files. Three queries, each sent a number of times to
each side per round, in `--slices` slices that alternate between the sides (A B B A A B
...; the side that goes first alternates by round), so that a shared machine's changing
load falls on both sides alike: (1) recipients per kecamatan, programme and year and (2)
residents per kecamatan, kelurahan and sex, as the anonymous public on /public/graphql;
(3) the first with the sum and average of `nominal`, as the analyst user:rina on
/graphql (who may aggregate those fields but not read them). Q1 and Q3 are sent 200
times, Q2 (a 50,000-row scan) 40, unless `--requests` sets all three. Every answer must
be HTTP 200 without `errors`, and the same every time it is asked. Prints requests/s and
CPU per request per side (the hub's, plus the database server's for PostgreSQL and
MariaDB; medians of the rounds) and perturbed / suppressed time per request (the median
of the rounds' ratios: above 1, perturbed is slower); target <= 1.3.

Then compares the perturbed side's answers with the true counts and sums, read from the
demo's SQLite files (a group missing from an answer was published as 0): per query, the
cells, the mean relative error of cells of 100 or more (target <= 2%), the largest
error (must be <= 2), the published total against the true one, and how many cells of
1 to 4 were published as themselves (must be none); for (3), the published sums against
the true ones (none may be exact), and that its counts are those of (1) (the same cells
get the same noise, whoever asks). With `all`, MariaDB's published figures must equal
SQLite's (the same records, key and hash: the same noise; PostgreSQL hashes with its own
seeded function, adapters/cellkey.py, so its noise differs). Ends with one
line per source. Exits 1 when a check fails; the time target is only marked ✓/✗.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncmy
import asyncmy.errors
import asyncpg
import httpx
import orjson
import yaml
from children import Children, cpu_seconds, free_port, tail, terminate_as_exit, wait_healthy

REPO = Path(__file__).resolve().parents[1]
SIDES = ("perturbed", "suppressed")
SUPPRESSED = {"dinsos.yaml": "penerima_bansos", "dukcapil.yaml": "penduduk"}
SOURCES = ("sqlite", "postgresql", "mariadb")
# as tests/support/databases.py reaches them (trust / no password, local only)
SERVERS = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}",
    "mariadb": "mysql+asyncmy://root@127.0.0.1:3306/{db}?charset=utf8mb4",
}
DAEMONS = {"postgresql": ("postgres",), "mariadb": ("mariadbd", "mysqld")}  # for their CPU
BATCH = 5_000  # rows per MariaDB INSERT
TARGET_RATIO = 1.3  # perturbed / suppressed, time per request
TARGET_ERROR = 0.02  # mean relative error of counts of cells of 100 or more
MAX_ERROR = 2  # max_noise: the largest error of a published count
LARGE = 100
SMALL = range(1, 5)  # 1 .. min_group_size - 1: never published as themselves
DISCLOSURE_KEY = "bench-disclosure"  # fixed, so that runs publish the same noise


@dataclass(frozen=True)
class Query:
    name: str
    what: str
    path: str  # /public/graphql (anonymous) or /graphql (the analyst's key)
    text: str
    database: str  # demo file and table of the true figures, and their group columns
    table: str
    columns: tuple[str, ...]
    fields: tuple[str, ...]  # the same, as GraphQL names
    sums: bool = False
    requests: int = 200  # per side and round, unless --requests


QUERIES = (
    Query(
        "Q1", "public: recipients by kecamatan, program, tahun", "/public/graphql",
        "{ dinsos { penerimaBansosAggregate(groupBy: [kecamatan, program, tahun]) "
        "{ group { kecamatan program tahun } count } } }",
        "dinsos", "penerima_bansos", ("kecamatan", "program", "tahun"), ("kecamatan", "program", "tahun"),
    ),
    Query(
        "Q2", "public: residents by kecamatan, kelurahan, sex", "/public/graphql",
        "{ dukcapil { pendudukAggregate(groupBy: [kecamatan, kelurahan, jenisKelamin]) "
        "{ group { kecamatan kelurahan jenisKelamin } count } } }",
        "dukcapil", "penduduk", ("kecamatan", "kelurahan", "jenis_kelamin"),
        ("kecamatan", "kelurahan", "jenisKelamin"), requests=40,
    ),
    Query(
        "Q3", "analyst: Q1 with sum and avg of nominal", "/graphql",
        "{ dinsos { penerimaBansosAggregate(groupBy: [kecamatan, program, tahun]) "
        "{ group { kecamatan program tahun } count sum { nominal } avg { nominal } } } }",
        "dinsos", "penerima_bansos", ("kecamatan", "program", "tahun"), ("kecamatan", "program", "tahun"),
        sums=True,
    ),
)  # fmt: skip

Cell = tuple[Any, ...]
Answer = dict[Cell, tuple[Any, ...]]  # {group: (count, sum, avg)}, None where suppressed


class Failed(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[2:]) if __doc__ else None,
    )
    p.add_argument(
        "--source",
        choices=[*SOURCES, "all"],
        default="sqlite",
        help="where the two datasets live: the demo's SQLite files (default), a scratch PostgreSQL or "
        "MariaDB database, or each in turn",
    )
    p.add_argument("--rounds", type=int, default=5, help="rounds over both sides and all queries (default 5)")
    p.add_argument(
        "--requests",
        type=int,
        help="requests per query, side and round (default: "
        + ", ".join(f"{q.name} {q.requests}" for q in QUERIES)
        + ")",
    )
    p.add_argument(
        "--slices",
        type=int,
        default=10,
        help="slices each side's requests of a round are sent in, alternating sides (default 10)",
    )
    p.add_argument("--residents", type=int, default=50_000, help="demo residents (default 50,000)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.slices < 1 or (args.requests is not None and args.requests < 1):
        p.error("need --rounds >= 1, --slices >= 1 and --requests >= 1")
    return args


def requests(q: Query, args: argparse.Namespace) -> int:
    return int(args.requests) if args.requests is not None else q.requests


# --- the scratch databases (the part of tests/support/databases.py the bench needs)


@dataclass(frozen=True)
class Copied:
    """A dataset's table as the demo's SQLite file has it, with the catalog's types."""

    opd: str  # the catalog file's stem and the demo file's: dukcapil.yaml, dukcapil.db
    table: str
    columns: tuple[tuple[str, str, bool], ...]  # (name, catalog type, NOT NULL)
    key: tuple[str, ...]
    indexes: tuple[tuple[str, bool, tuple[str, ...]], ...]  # (name, unique, columns)


def copied(schema: Path, data: Path) -> list[Copied]:
    out = []
    for file, dataset in SUPPRESSED.items():
        spec = yaml.safe_load((schema / file).read_text())["datasets"][dataset]
        opd, table = Path(file).stem, spec.get("table", dataset)
        types = {f.get("column", name): f["type"] for name, f in spec["fields"].items()}
        conn = sqlite3.connect(f"file:{data / f'{opd}.db'}?mode=ro", uri=True)
        try:
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()  # cid name type notnull dflt pk
            indexes = [
                (name, bool(unique), tuple(c[2] for c in conn.execute(f"PRAGMA index_info({name})")))
                for _, name, unique, origin, _ in conn.execute(f"PRAGMA index_list({table})")
                if origin == "c"
            ]
        finally:
            conn.close()
        fallback = {"INTEGER": "integer", "REAL": "number"}
        columns = tuple(
            (c[1], types.get(c[1], fallback.get(c[2].upper(), "string")), bool(c[3])) for c in info
        )
        key = tuple(c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5]))
        out.append(Copied(opd, table, columns, key, tuple(sorted(indexes))))
    return out


SQL_TYPES = {
    "postgresql": {"string": "TEXT", "integer": "BIGINT", "number": "DOUBLE PRECISION", "date": "DATE",
                   "boolean": "BOOLEAN", "datetime": "TIMESTAMP"},
    "mariadb": {"string": "VARCHAR(255)", "integer": "BIGINT", "number": "DOUBLE", "date": "DATE",
                "boolean": "BOOLEAN", "datetime": "DATETIME"},
}  # fmt: skip


def convert(kind: str) -> Any:
    """SQLite's value (text, integer) as the column's type wants it."""
    if kind == "date":
        return lambda v: None if v is None else dt.date.fromisoformat(v)
    if kind == "datetime":
        return lambda v: None if v is None else dt.datetime.fromisoformat(v)
    if kind == "boolean":
        return lambda v: None if v is None else bool(v)
    return lambda v: v


class Scratch:
    """A fresh database on the local PostgreSQL or MariaDB server; `url` is the hub's URL for it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"hubbench_{uuid.uuid4().hex[:10]}"
        self.url = SERVERS[kind].format(db=self.name)

    async def _connect(self, database: str | None) -> Any:
        if self.kind == "postgresql":
            return await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database=database)
        return await asyncmy.connect(host="127.0.0.1", port=3306, user="root", database=database,
                                     charset="utf8mb4", autocommit=True)  # fmt: skip

    async def _admin(self, statement: str) -> None:
        conn = await self._connect("postgres" if self.kind == "postgresql" else None)
        try:
            await self._execute(conn, statement)
        finally:
            await self._close(conn)

    async def _execute(self, conn: Any, statement: str, rows: Sequence[Sequence[Any]] | None = None) -> None:
        if self.kind == "postgresql":
            await conn.execute(statement)
            return
        async with conn.cursor() as cur:
            if rows is None:
                await cur.execute(statement)
                await cur.fetchall()  # ANALYZE TABLE answers rows
            else:
                await cur.executemany(statement, rows)

    async def _close(self, conn: Any) -> None:
        if self.kind == "postgresql":
            await conn.close()
        else:
            await conn.ensure_closed()

    async def create(self) -> None:
        await self._admin(f"CREATE DATABASE {self.name}")

    async def drop(self) -> None:
        force = " WITH (FORCE)" if self.kind == "postgresql" else ""
        await self._admin(f"DROP DATABASE IF EXISTS {self.name}{force}")

    async def load(self, data: Path, tables: list[Copied]) -> int:
        """Copy the tables' rows from the demo's SQLite files; the rows copied."""
        conn = await self._connect(self.name)
        total = 0
        try:
            for t in tables:
                types = SQL_TYPES[self.kind]
                cols = ", ".join(
                    f"{c} {types[kind]}{' NOT NULL' if notnull else ''}" for c, kind, notnull in t.columns
                )
                await self._execute(
                    conn, f"CREATE TABLE {t.table} ({cols}, PRIMARY KEY ({', '.join(t.key)}))"
                )
                names = [c for c, _, _ in t.columns]
                conversions = [convert(kind) for _, kind, _ in t.columns]
                lite = sqlite3.connect(f"file:{data / f'{t.opd}.db'}?mode=ro", uri=True)
                try:
                    cursor = lite.execute(f"SELECT {', '.join(names)} FROM {t.table}")
                    while batch := cursor.fetchmany(BATCH):
                        rows = [tuple(f(v) for f, v in zip(conversions, r, strict=True)) for r in batch]
                        if self.kind == "postgresql":
                            await conn.copy_records_to_table(t.table, records=rows, columns=names)
                        else:
                            marks = ", ".join(["%s"] * len(names))
                            await self._execute(
                                conn, f"INSERT INTO {t.table} ({', '.join(names)}) VALUES ({marks})", rows
                            )
                        total += len(rows)
                finally:
                    lite.close()
                for name, unique, on in t.indexes:  # after the rows: faster
                    await self._execute(
                        conn, f"CREATE {'UNIQUE ' * unique}INDEX {name} ON {t.table} ({', '.join(on)})"
                    )
                # statistics, as the demo files have theirs (sqlite_stat1); PostgreSQL: the visibility map too
                await self._execute(
                    conn, f"{'VACUUM ANALYZE' if self.kind == 'postgresql' else 'ANALYZE TABLE'} {t.table}"
                )
        finally:
            await self._close(conn)
        return total


def server_pid(source: str) -> int | None:
    """The database server's process (its CPU is read with its children's), if this machine shows it."""
    if source not in DAEMONS:
        return None
    procs: dict[int, tuple[str, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            procs[int(stat.parent.name)] = (
                text[text.index("(") + 1 : text.rindex(")")],
                int(text.rpartition(")")[2].split()[1]),
            )
    names = DAEMONS[source]
    roots = [
        p
        for p, (comm, parent) in procs.items()
        if comm in names and procs.get(parent, ("", 0))[0] not in names
    ]
    if len(roots) != 1:
        return None
    try:
        cpu_seconds(roots[0])
    except (OSError, ValueError, IndexError):
        return None
    return roots[0]


# --- the two hubs


def catalogs(work: Path, url: str | None) -> dict[str, Path]:
    """The demo catalog as it is, and a copy with `method: suppress` on two datasets; with
    `url`, both read those two datasets from it."""
    dirs = {side: work / f"schema-{side}" for side in SIDES}
    for d in dirs.values():
        shutil.copytree(REPO / "schema", d)
    for side, d in dirs.items():
        for file, dataset in SUPPRESSED.items():
            if url is None and side == "perturbed":
                continue
            path = d / file
            spec = yaml.safe_load(path.read_text())
            if side == "suppressed":
                spec["datasets"][dataset]["disclosure"] = {"method": "suppress"}
            if url is not None:
                source = spec["datasets"][dataset]["source"]
                was = spec["sources"][source]["url"]  # the demo's SQLite file of that OPD
                assert was.endswith(f"/{Path(file).stem}.db"), was
                spec["sources"][source]["url"] = url
            path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return dirs


def environment(work: Path, data: Path, side: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "PYTHONPATH": str(REPO), "HUB_DEMO_DIR": str(data), "HUB_LOG_LEVEL": "WARNING",
        "HUB_RATE_LIMIT_PUBLIC": "", "HUB_RATE_LIMIT_KEY": "",  # a bench is one client
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{work / f'hub-{side}.db'}", "HUB_AUDIT_KEY": "bench",
        "HUB_DISCLOSURE_KEY": DISCLOSURE_KEY,
    }  # fmt: skip


HUB = [sys.executable, "-c", "from hub.cli.main import main; main()"]


def run(kids: Children, name: str, argv: list[str], env: dict[str, str]) -> str:
    proc = kids.start(name, argv, env=env)
    out, err = proc.communicate(timeout=120)
    kids.stop(proc)
    if proc.returncode != 0:
        raise Failed(f"{name} failed ({proc.returncode}):\n{(out + err).decode()[-2000:]}")
    return out.decode()


def serve(kids: Children, side: str, schema: Path, data: Path, work: Path) -> tuple[str, str, int]:
    """`hub serve` of `schema`: its base URL, an API key for user:rina, its pid."""
    env = environment(work, data, side)
    policies = REPO / "policies"
    run(kids, f"check {side}", [*HUB, "check", "--schema", str(schema), "--policies", str(policies)], env)
    key = run(kids, f"clients {side}", [*HUB, "clients", "create", "user:rina"], env).strip()
    port, log = free_port(), work / f"hub-{side}.log"
    argv = [*HUB, "serve", "--schema", str(schema), "--policies", str(policies), "--port", str(port)]
    proc = kids.start(f"hub {side}", argv, env=env, log=log)
    wait_healthy(f"hub {side}", proc, f"http://127.0.0.1:{port}/readyz", 120, log)
    return f"http://127.0.0.1:{port}", key, proc.pid


def canonical(q: Query, content: bytes) -> Answer:
    """An answer as {group: (count, sum, avg)}, None where suppressed; raises Failed on
    an error answer."""
    body = orjson.loads(content)
    if body.get("errors") or not body.get("data"):
        raise Failed(f"{q.name}: errors in the answer: {str(body.get('errors'))[:500]}")
    (opd,) = body["data"].values()
    (groups,) = opd.values()
    out: dict[Cell, tuple[Any, ...]] = {}
    for g in groups:
        cell = tuple(g["group"][f] for f in q.fields)
        sums = (g["sum"] and g["sum"]["nominal"], g["avg"] and g["avg"]["nominal"]) if q.sums else ()
        out[cell] = (g["count"], *sums)  # null when suppressed
    return out


class Side:
    def __init__(self, name: str, base: str, key: str, pid: int) -> None:
        self.name, self.pid = name, pid
        self.clients = {
            "/public/graphql": httpx.Client(base_url=base, timeout=120),
            "/graphql": httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}),
        }
        self.first: dict[str, bytes] = {}  # each query's first answer: every later one must equal it
        self.answers: dict[str, Answer] = {}

    def ask(self, q: Query) -> None:
        r = self.clients[q.path].post(q.path, content=orjson.dumps({"query": q.text}),
                                      headers={"content-type": "application/json"})  # fmt: skip
        if r.status_code != 200:
            raise Failed(f"{q.name} {self.name}: HTTP {r.status_code}: {r.text[:500]}")
        if q.name not in self.first:
            self.answers[q.name] = canonical(q, r.content)
            self.first[q.name] = r.content
        elif r.content != self.first[q.name]:
            canonical(q, r.content)  # an error answer says so; else the figures changed
            raise Failed(f"{q.name} {self.name}: the answer changed between two identical requests")

    def measure(self, q: Query, requests: int, db: int | None) -> tuple[float, float, float]:
        """Seconds of `requests` requests: wall, CPU of the hub and of the database server `db`."""
        cpu, db_cpu = cpu_seconds(self.pid), cpu_seconds(db) if db else 0.0
        start = time.perf_counter()
        for _ in range(requests):
            self.ask(q)
        wall = time.perf_counter() - start
        return wall, cpu_seconds(self.pid) - cpu, (cpu_seconds(db) - db_cpu if db else 0.0)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def turns(
    sides: list[Side], q: Query, requests: int, slices: int, db: int | None
) -> dict[str, dict[str, float]]:
    """`requests` requests of `q` to each side in `slices` slices, A B B A A B ...; per
    side: requests/s, and wall and CPU ms per request."""
    for side in sides:
        side.ask(q)  # a warm connection and caches, off the clock
    sizes = [requests // slices + (i < requests % slices) for i in range(min(slices, requests))]
    spent = {side.name: [0.0, 0.0, 0.0] for side in sides}
    for i, n in enumerate(sizes):
        for side in sides if i % 2 == 0 else sides[::-1]:
            spent[side.name] = [a + b for a, b in zip(spent[side.name], side.measure(q, n, db), strict=True)]
    return {
        name: {"rate": requests / wall, "ms": 1000 * wall / requests, "cpu_ms": 1000 * cpu / requests,
               "db_ms": 1000 * db_cpu / requests}
        for name, (wall, cpu, db_cpu) in spent.items()
    }  # fmt: skip


def truth(data: Path, q: Query) -> dict[Cell, tuple[int, int]]:
    """{group: (true count, true sum of nominal or 0)} from the demo's SQLite file."""
    conn = sqlite3.connect(f"file:{data / f'{q.database}.db'}?mode=ro", uri=True)
    cols = ", ".join(q.columns)
    total = "SUM(nominal)" if q.sums else "0"
    try:
        rows = conn.execute(f"SELECT {cols}, COUNT(*), {total} FROM {q.table} GROUP BY {cols}").fetchall()
    finally:
        conn.close()
    return {tuple(r[:-2]): (int(r[-2]), int(r[-1])) for r in rows}


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def table(rows: list[list[str]]) -> None:
    """Print rows as columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        print("  " + "  ".join(cells).rstrip())


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:+.3f}%" if whole else "n/a"


def speed(runs: list[dict[str, Any]], rounds: int, db: bool) -> dict[str, float]:
    """Print the table of medians and ratios; {query: perturbed / suppressed}."""
    by = {(r["round"], r["query"], r["side"]): r for r in runs}
    cpu_head = "(CPU ms/req: hub+db)" if db else "(CPU ms/req)"
    rows = [["query", "perturbed req/s", cpu_head, "suppressed req/s", cpu_head,
             "perturbed / suppressed", "rounds", "CPU/req"]]  # fmt: skip
    out = {}
    for q in QUERIES:
        row = [q.name]
        for side in SIDES:
            mine = [r for r in runs if r["query"] == q.name and r["side"] == side]
            hub = statistics.median(r["cpu_ms"] for r in mine)
            dbms = statistics.median(r["db_ms"] for r in mine)
            row += [f"{statistics.median(r['rate'] for r in mine):,.0f}",
                    f"({hub:.2f}+{dbms:.2f})" if db else f"({hub:.2f})"]  # fmt: skip
        pairs = [(by[n, q.name, SIDES[0]], by[n, q.name, SIDES[1]]) for n in range(1, rounds + 1)]
        ratios = [a["ms"] / b["ms"] for a, b in pairs]
        # CPU is read in clock ticks (10 ms): a short turn may show none
        both = [(a["cpu_ms"] + a["db_ms"], b["cpu_ms"] + b["db_ms"]) for a, b in pairs]
        cpu = statistics.median(a / b if b else float("nan") for a, b in both)
        out[q.name] = ratio = statistics.median(ratios)
        rounds_text = " ".join(f"{x:.2f}" for x in ratios)
        row += [f"{ratio:.2f}x {mark(ratio <= TARGET_RATIO)}", rounds_text, f"{cpu:.2f}x"]
        rows.append(row)
    table(rows)
    print(f"  (target: perturbed / suppressed time per request <= {TARGET_RATIO}x; CPU/req: the same ratio")
    print(f"  of {'the hub and database server' if db else 'server'} CPU per request; each the median of the "
          "rounds' ratios)")  # fmt: skip
    return out


def utility(q: Query, true: dict[Cell, tuple[int, int]], answers: dict[str, Answer]) -> bool:
    """Print what the perturbed answer to `q` is worth; False when a check fails."""
    published = answers["perturbed"]
    shown = {c: v for c, v in answers["suppressed"].items() if v[0] is not None}
    cells = sorted(true)
    largest = max(t for t, _ in true.values())
    print(f"\n{q.name} {q.what}: {len(cells)} cells with someone (largest {largest:,}); "
          f"{len(published)} published, {len(shown)} when suppressed")  # fmt: skip
    nulls = [c for c, v in published.items() if None in v[: 2 if q.sums else 1]]
    extra = sorted(set(published) - set(true))
    if nulls or extra:
        print(f"  ✗ groups without a figure: {nulls[:3]}; groups holding nobody: {extra[:3]}")
        return False
    count = {c: (published[c][0] if c in published else 0) for c in cells}
    errors = {c: abs(count[c] - true[c][0]) for c in cells}
    large = [c for c in cells if true[c][0] >= LARGE]
    if q.sums:
        sums = {c: published[c][1] for c in cells if c in published}
        total, got = sum(s for _, s in true.values()), sum(sums.values())
        hidden = sum(v[1] for v in shown.values())
        print(f"  sum of nominal published {got:,} / true {total:,}: {pct(got - total, total)} "
              f"(suppressed: {hidden:,}, {pct(hidden - total, total)})")  # fmt: skip
        big = [c for c in large if c in sums]
        if big:
            mean = statistics.fmean(abs(sums[c] - true[c][1]) / true[c][1] for c in big)
            print(f"  mean |published - true| / true of sums, {len(big)} cells >= {LARGE}: {100 * mean:.2f}%")
        else:
            print(f"  mean relative error of sums of cells >= {LARGE}: no such cell")
        rel = sorted(abs(sums[c] - true[c][1]) / true[c][1] for c in sums if true[c][1])
        exact: int = sum(sums[c] == true[c][1] for c in sums)
        median = 100 * statistics.median(rel)
        print(f"  relative error of the {len(rel)} published sums: median {median:.1f}%, largest "
              f"{100 * rel[-1]:.1f}%; published exact: {exact} (must be 0) {mark(not exact)}")  # fmt: skip
        return exact == 0
    small = [c for c in cells if true[c][0] in SMALL]
    exact_small = [c for c in small if count[c] == true[c][0]]
    worst = max(errors.values())
    if large:
        mean = statistics.fmean(errors[c] / true[c][0] for c in large)
        print(f"  mean |published - true| / true, {len(large)} cells >= {LARGE}: {100 * mean:.2f}% "
              f"(target <= {100 * TARGET_ERROR:.0f}%) {mark(mean <= TARGET_ERROR)}")  # fmt: skip
    else:
        print(f"  mean relative error of cells >= {LARGE}: no such cell")
    by_error = ", ".join(f"{e}: {list(errors.values()).count(e)}" for e in range(worst + 1))
    print(f"  largest |published - true|: {worst} (must be <= {MAX_ERROR}) {mark(worst <= MAX_ERROR)}; "
          f"cells by it: {by_error}")  # fmt: skip
    total, got, hidden = (
        sum(t for t, _ in true.values()),
        sum(count.values()),
        sum(v[0] for v in shown.values()),
    )
    print(f"  total published {got:,} / true {total:,}: {pct(got - total, total)} "
          f"(suppressed: {hidden:,}, {pct(hidden - total, total)})")  # fmt: skip
    print(f"  cells of 1-4 published as themselves: {len(exact_small)} of {len(small)} (must be 0) "
          f"{mark(not exact_small)}")  # fmt: skip
    return worst <= MAX_ERROR and not exact_small


@dataclass
class Outcome:
    source: str
    ratios: dict[str, float] = field(default_factory=dict)  # {query: perturbed / suppressed}
    answers: dict[str, Answer] = field(default_factory=dict)  # {query: the perturbed answer}
    ok: bool = False  # every check passed
    error: str = ""


# what ends a source's run with its logs printed (the checks after the run fail it otherwise)
FAILURES = (Failed, RuntimeError, OSError, httpx.HTTPError, subprocess.SubprocessError, KeyError, TypeError,
            ValueError, asyncpg.PostgresError, asyncmy.errors.MySQLError)  # fmt: skip


def bench(source: str, args: argparse.Namespace, data: Path, work: Path,
          truths: dict[str, dict[Cell, tuple[int, int]]]) -> Outcome:  # fmt: skip
    """Both sides on `source`: measure, print the figures and checks."""
    work.mkdir()
    print(f"\n=== source: {source} ===", flush=True)
    outcome = Outcome(source)
    scratch = Scratch(source) if source in SERVERS else None
    sides: dict[str, Side] = {}
    runs: list[dict[str, Any]] = []
    try:
        with Children() as kids:  # the hubs stop before the scratch database is dropped
            try:
                if scratch:
                    start = time.perf_counter()
                    asyncio.run(scratch.create())
                    rows = asyncio.run(scratch.load(data, copied(REPO / "schema", data)))
                    print(f"  {rows:,} rows copied to {scratch.url} in {time.perf_counter() - start:.1f} s")
                for side, schema in catalogs(work, scratch.url if scratch else None).items():
                    sides[side] = Side(side, *serve(kids, side, schema, data, work))
                db = server_pid(source)
                if source in DAEMONS and db is None:
                    print(f"  (the {source} server's process is not visible: its CPU is not counted)")
                for n in range(1, args.rounds + 1):
                    print(f"{source} round {n} of {args.rounds}", file=sys.stderr, flush=True)
                    for q in QUERIES:
                        order = [sides[side] for side in (SIDES if n % 2 else SIDES[::-1])]
                        for side, turn in turns(order, q, requests(q, args), args.slices, db).items():
                            runs.append({"round": n, "query": q.name, "side": side, **turn})
                            rate = f"  {q.name} {side:<10} {turn['rate']:7.1f} req/s"
                            print(rate, file=sys.stderr, flush=True)
            except FAILURES as e:
                print(f"\nFAILED ({source}): {e}", file=sys.stderr)
                for side in sides:
                    print(f"--- hub {side} log (tail) ---\n{tail(work / f'hub-{side}.log')}", file=sys.stderr)
                outcome.error = str(e).splitlines()[0] if str(e) else type(e).__name__
                print(f"  FAILED: {outcome.error}")
                return outcome
            finally:
                for s in sides.values():
                    s.close()
    finally:
        if scratch:
            try:
                asyncio.run(scratch.drop())
            except FAILURES as e:
                print(f"could not drop {scratch.name} on {source}: {e}", file=sys.stderr)

    counts = ", ".join(f"{q.name} {requests(q, args)}" for q in QUERIES)
    print(f"\nmedians over {args.rounds} rounds of {counts} requests per side, in {args.slices} slices:\n")
    outcome.ratios = speed(runs, args.rounds, db=source in DAEMONS)
    answers = {q.name: {side: sides[side].answers[q.name] for side in SIDES} for q in QUERIES}
    print(f"\nthe perturbed answers against the true figures (a missing group = 0; key {DISCLOSURE_KEY!r}):")
    ok = True
    for q in QUERIES:
        ok &= utility(q, truths[q.name], answers[q.name])
    one, three = answers["Q1"]["perturbed"], answers["Q3"]["perturbed"]
    same = one.keys() == three.keys() and all(one[c][0] == three[c][0] for c in one)
    print(f"\nQ3's counts are Q1's (the same cells get the same noise, public or analyst): {mark(same)}")
    outcome.answers = {q: a["perturbed"] for q, a in answers.items()}
    outcome.ok = ok and same
    return outcome


def as_sqlite(outcome: Outcome, sqlite: Outcome) -> bool:
    """Print whether `outcome` published what the SQLite source did; False if not."""
    parts, ok = [], True
    for q in QUERIES:
        mine, theirs = outcome.answers[q.name], sqlite.answers[q.name]
        cells = mine.keys() | theirs.keys()
        counts = sum(mine.get(c, (None,))[0] != theirs.get(c, (None,))[0] for c in cells)
        rest = sum(mine.get(c, ())[1:] != theirs.get(c, ())[1:] for c in cells)
        ok &= not counts and not rest
        what = f"{counts} of {len(cells)} counts" + (f", {rest} sums or averages" if q.sums else "")
        parts.append(
            f"{q.name} {mark(not counts and not rest)}" + (f" ({what} differ)" if counts or rest else "")
        )
    print(f"\n{outcome.source}'s published figures equal SQLite's: {'; '.join(parts)}")
    return ok


def code() -> str:
    """The commit checked out, and how many files the working tree changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        changed = subprocess.run(["git", "status", "--short"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.splitlines()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}" + (f" with {len(changed)} changed or new files" if changed else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sources = SOURCES if args.source == "all" else (args.source,)
    print(f"date:    {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
    print(f"code:    {code()}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    with terminate_as_exit(), tempfile.TemporaryDirectory(prefix="hub-disclosure-") as name:
        work = Path(name)
        data = work / "demo"
        from hub.demo.generate import generate

        print(f"generating {args.residents:,} residents ...", file=sys.stderr, flush=True)
        try:
            generate(data, residents=args.residents, progress=False)
        except ValueError as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        truths = {q.name: truth(data, q) for q in QUERIES}
        for source in sources:
            outcomes.append(bench(source, args, data, work / source, truths))

    ok = all(o.ok for o in outcomes)
    sqlite = next((o for o in outcomes if o.source == "sqlite" and not o.error), None)
    same = {
        o.source: as_sqlite(o, sqlite) for o in outcomes if o.source == "mariadb" and not o.error and sqlite
    }
    print(f"\nsummary (perturbed / suppressed time per request, target <= {TARGET_RATIO}x):")
    for o in outcomes:
        if o.error:
            print(f"  {o.source:<10}  FAILED: {o.error}")
            continue
        ratios = "  ".join(f"{q} {r:.2f}x {mark(r <= TARGET_RATIO)}" for q, r in o.ratios.items())
        equal = f"; as SQLite's {mark(same[o.source])}" if o.source in same else ""
        print(f"  {o.source:<10}  {ratios}  checks {mark(o.ok)}{equal}")
    print(f"\nload at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({(time.perf_counter() - started) / 60:.1f} min)")  # fmt: skip
    if not (ok and all(same.values())):
        print("FAILED: a check above failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
