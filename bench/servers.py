"""The three servers the read benchmark compares, each started as one process.

- the hub: `hub serve` with a two-OPD catalog (Dukcapil's residents and Dinsos's
  recipients, in two PostgreSQL databases, related by NIK), the real policy model
  and audit log, called as Dinsos with an explicit rule to read Dukcapil's register;
- the floor: `bench/floor_app.py` (uvicorn + asyncpg + orjson);
- PostGraphile 4 on the residents' database, when Node is there (installed once into
  `bench/.node/`, then run from there: one Node process, no npx at run time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from children import Children, free_port, wait_healthy

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "hub_bench"
DINSOS_DATABASE = "hub_bench_dinsos"
NODE_DIR = BENCH / ".node"
POSTGRAPHILE = NODE_DIR / "node_modules" / ".bin" / "postgraphile"
POSTGRAPHILE_PACKAGE = "postgraphile@4"

DUKCAPIL = """\
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
      nama:          {{type: string, classification: confidential,
                      normalize: [trim, collapse_spaces, casefold]}}
      jenis_kelamin: {{type: string, classification: public}}
      tanggal_lahir: {{type: date, classification: internal}}
      kecamatan:     {{type: string, classification: public}}
      kelurahan:     {{type: string, classification: public}}
      alamat:        {{type: string, classification: confidential}}
      pekerjaan:     {{type: string, classification: internal}}
      status_hidup:  {{type: boolean, classification: internal, column: is_alive}}
"""
DINSOS = """\
opd: {{id: dinsos, name: Dinas Sosial (benchmark)}}
sources:
  main: {{adapter: sql, url: "postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"}}
datasets:
  penerima:
    title: Penerima Bantuan Sosial (synthetic)
    source: main
    table: penerima
    key: id
    fields:
      id:      {{type: integer, classification: internal}}
      nik:     {{type: string, classification: confidential}}
      program: {{type: string, classification: public}}
      nominal: {{type: integer, classification: internal}}
      tahun:   {{type: integer, classification: public}}
      status:  {{type: string, classification: public}}
    relationships:
      penduduk:
        to: dukcapil.penduduk
        join: {{nik: nik}}
"""
# The measured caller is an OPD reading a peer's data under an explicit rule: Dinsos
# reads its own recipients (implicit rule) and, by this rule, Dukcapil's register.
# Every answer releases confidential fields, so every request leaves an audit record.
POLICY = """\
# benchmark: Dinsos may read, match and count Dukcapil's residents
p, opd:dinsos, dukcapil.penduduk.*, *, allow
"""
SUBJECT = "opd:dinsos"


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    metrics_url: str | None = None  # the hub's Prometheus endpoint


# --- the hub -----------------------------------------------------------------------


async def fresh_database(database: str) -> str:
    """An empty PostgreSQL database `database` (dropped first if there): a hub store's
    SQLAlchemy URL."""
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return f"{SERVER.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"


def hub_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
        "HUB_AUDIT_KEY": "bench-audit-key",
        "HUB_CURSOR_SECRET": "bench-cursor-secret",
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_RATE_LIMIT_PUBLIC": "",
        "HUB_RATE_LIMIT_KEY": "",  # a bench is one client
    }


def write_hub_config(tmp: Path) -> tuple[Path, Path]:
    schema, policies = tmp / "schema", tmp / "policies"
    schema.mkdir()
    policies.mkdir()
    (schema / "dukcapil.yaml").write_text(DUKCAPIL.format(database=DATABASE))
    (schema / "dinsos.yaml").write_text(DINSOS.format(database=DINSOS_DATABASE))
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


def start_hub(
    kids: Children,
    tmp: Path,
    name: str = "hub",
    env: dict[str, str] | None = None,
    serve: tuple[str, ...] = (),
) -> Server:
    """`hub serve SERVE…` as `name`, its files in the new directory `tmp`; `env` overrides
    the benchmark's settings (a PostgreSQL store, say)."""
    tmp.mkdir(exist_ok=True)
    schema, policies = write_hub_config(tmp)
    env = hub_env(tmp) | (env or {})
    key = create_key(env)
    port, log = free_port(), tmp / f"{name}.log"
    argv = [hub_command(), "serve", "--schema", str(schema), "--policies", str(policies), "--port", str(port)]
    proc = kids.start(name, [*argv, *serve], env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(name, proc, f"{base}/healthz", 60, log)
    return Server(name, proc.pid, f"{base}/graphql", {"authorization": f"Bearer {key}"}, f"{base}/metrics")


def source_calls(hub: Server) -> dict[str, float]:
    """The hub's calls to each source so far, all outcomes (`hub_source_requests_total`)."""
    assert hub.metrics_url is not None
    text = httpx.get(hub.metrics_url, timeout=10).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("hub_source_requests_total{"):
            labels, _, value = line.rpartition(" ")
            source = labels.split('source="', 1)[1].split('"', 1)[0]
            out[source] = out.get(source, 0.0) + float(value)
    return out


def calls_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {s: after[s] - before.get(s, 0.0) for s in after if after[s] - before.get(s, 0.0)}


# --- the floor ---------------------------------------------------------------------


def start_floor(kids: Children, tmp: Path, dinsos_dsn: str = f"{SERVER}/{DINSOS_DATABASE}") -> Server:
    port, log = free_port(), tmp / "floor.log"
    argv = [
        sys.executable, str(BENCH / "floor_app.py"), "--port", str(port),
        "--dsn", f"{SERVER}/{DATABASE}", "--dinsos-dsn", dinsos_dsn,
    ]  # fmt: skip
    proc = kids.start("floor", argv, log=log)
    wait_healthy("floor", proc, f"http://127.0.0.1:{port}/healthz", 60, log)
    return Server("floor", proc.pid, f"http://127.0.0.1:{port}/graphql")


# --- PostGraphile ------------------------------------------------------------------


def postgraphile_installed() -> str | None:
    """Install PostGraphile 4 into bench/.node once; None when it is there, else why not."""
    if POSTGRAPHILE.exists():
        return None
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return "Node.js/npm not found"
    print(f"installing {POSTGRAPHILE_PACKAGE} into {NODE_DIR} (once)", flush=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", POSTGRAPHILE_PACKAGE],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0 or not POSTGRAPHILE.exists():
        return f"npm install {POSTGRAPHILE_PACKAGE} failed:\n{done.stderr[-2000:]}"
    return None


def start_postgraphile(kids: Children, tmp: Path) -> Server:
    port, log = free_port(), tmp / "postgraphile.log"
    argv = [
        str(POSTGRAPHILE), "--connection", f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "--host", "127.0.0.1", "--port", str(port), "--schema", "public",
        "--disable-query-log", "--disable-graphiql", "--disable-default-mutations",
    ]  # fmt: skip
    # One Node process (no --cluster-workers, no --watch); production mode as deployed.
    proc = kids.start("postgraphile", argv, env={**os.environ, "NODE_ENV": "production"}, log=log)
    url = f"http://127.0.0.1:{port}/graphql"
    wait_healthy("postgraphile", proc, url, 90, log, post=b'{"query":"{ __typename }"}')
    return Server("postgraphile", proc.pid, url)
