"""CSV downloads of a whole table: the hub's `/public/datasets/...csv` against Datasette's
`_stream=on` CSV of the same SQLite file.

    .venv/bin/python bench/downloads.py [--rows 100000] [--rounds 7] [--seed 20261128]

Generates the demo's residents (`hub.demo.people`, `--rows` of them) into one SQLite
file, `dukcapil.db`, as the demo writes it. The hub serves it with the bench's own
catalog (Dukcapil's `penduduk`, no relationships) and policy: `public` reads four
fields, `nik`, `nama`, `kecamatan` and `tanggal_lahir`, and nothing else. Datasette
(from PyPI, installed once into `bench/.datasette/`, its own virtual environment)
serves the same file; its URL asks for the same four columns (it sends the primary key,
`nik`, unasked):

    hub        GET /public/datasets/dukcapil/penduduk.csv
    datasette  GET /dukcapil/penduduk.csv?_stream=on&_size=max&_col=nama&_col=kecamatan&...

Each is read to its end once to warm up and checked: the same number of rows, and the
same set of (nik, nama, kecamatan, tanggal_lahir) rows, as the file holds. Then
`--rounds` rounds, each reading both, in alternating order (hub first, then Datasette
first, ...) so the shared machine's load falls on both alike. Prints each one's median
seconds and rows/s, and the ratio of their rows/s, marked against the issue's aim
(hub >= 2x Datasette). Exits 1 when the outputs differ.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from children import Children, free_port, terminate_as_exit, wait_healthy

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SEED = 20261128  # the demo's
AIM = 2.0
COLUMNS = ("nik", "nama", "kecamatan", "tanggal_lahir")
DATASETTE_DIR = BENCH / ".datasette"
DATASETTE_PACKAGE = "datasette>=0.65"
HUB = [sys.executable, "-c", "from hub.cli.main import main; main()"]
CATALOG = """\
opd: {{id: dukcapil, name: Dinas Kependudukan dan Pencatatan Sipil (benchmark)}}
sources:
  main: {{adapter: sql, url: "sqlite+aiosqlite:///{path}"}}
datasets:
  penduduk:
    title: Data Penduduk (synthetic)
    source: main
    table: penduduk
    key: nik
    license: CC-BY-4.0
    fields:
      nik:           {{type: string, classification: confidential}}
      nama:          {{type: string, classification: confidential}}
      jenis_kelamin: {{type: string, classification: internal}}
      tanggal_lahir: {{type: date, classification: internal}}
      kecamatan:     {{type: string, classification: internal}}
      status_hidup:  {{type: boolean, classification: internal, column: is_alive}}
"""
RULES = "".join(f"p, public, dukcapil.penduduk.{c}, read, allow\n" for c in COLUMNS)


class Failed(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000, help="residents in the table (default 100,000)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds, each reading both (default 7)")
    p.add_argument("--seed", type=int, default=SEED, help=f"data seed (default {SEED}, the demo's)")
    args = p.parse_args(argv)
    if args.rows < 1000 or args.rounds < 1:
        p.error("need --rows >= 1000 and --rounds >= 1")
    return args


def generate(path: Path, rows: int, seed: int) -> None:
    from hub.demo import people
    from hub.demo.tables import write

    register = people.residents(random.Random(f"{seed}/penduduk"), rows)
    write(path, [people.penduduk_table(register)], lambda *_: None)


def datasette() -> Path:
    """The datasette command of bench/.datasette, installed there on first use."""
    command = DATASETTE_DIR / "bin" / "datasette"
    if not command.exists():
        print(f"installing {DATASETTE_PACKAGE} into {DATASETTE_DIR} (once)", flush=True)
        shutil.rmtree(DATASETTE_DIR, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(DATASETTE_DIR)], check=True)
        pip = [str(DATASETTE_DIR / "bin" / "pip"), "install", "--quiet", DATASETTE_PACKAGE]
        subprocess.run(pip, check=True)
    return command


def datasette_version(command: Path) -> str:
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def start_hub(kids: Children, work: Path, db: Path) -> str:
    (work / "schema").mkdir()
    (work / "schema" / "dukcapil.yaml").write_text(CATALOG.format(path=db))
    (work / "policies").mkdir()
    shutil.copy(REPO / "policies" / "model.conf", work / "policies" / "model.conf")
    (work / "policies" / "policy.csv").write_text(RULES)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "PYTHONPATH": str(REPO), "HUB_LOG_LEVEL": "WARNING", "HUB_RATE_LIMIT_PUBLIC": "",
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'hub.db'}", "HUB_AUDIT_KEY": "bench",
    }  # fmt: skip
    port, log = free_port(), work / "hub.log"
    argv = [*HUB, "serve", "--schema", str(work / "schema"), "--policies", str(work / "policies")]
    proc = kids.start("hub", [*argv, "--port", str(port)], env=env, log=log)
    wait_healthy("hub", proc, f"http://127.0.0.1:{port}/readyz", 120, log)
    return f"http://127.0.0.1:{port}/public/datasets/dukcapil/penduduk.csv"


def start_datasette(kids: Children, work: Path, db: Path, command: Path) -> str:
    port, log = free_port(), work / "datasette.log"
    argv = [str(command), "serve", str(db), "--host", "127.0.0.1", "--port", str(port)]
    proc = kids.start("datasette", [*argv, "--setting", "num_sql_threads", "3"], log=log)
    base = f"http://127.0.0.1:{port}"
    wait_healthy("datasette", proc, f"{base}/-/versions.json", 120, log)
    # Datasette always sends the primary key (nik) first: naming it again would send it twice
    columns = "".join(f"&_col={c}" for c in COLUMNS if c != "nik")
    return f"{base}/dukcapil/penduduk.csv?_stream=on&_size=max{columns}"


def download(client: httpx.Client, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with client.stream("GET", url) as r:
        if r.status_code != 200:
            raise Failed(f"{url}: HTTP {r.status_code}")
        body = b"".join(r.iter_raw())
    return time.perf_counter() - started, body


def rows_of(body: bytes, name: str) -> set[tuple[str, ...]]:
    reader = csv.reader(io.StringIO(body.decode()))
    header = next(reader)
    if sorted(header) != sorted(COLUMNS):
        raise Failed(f"{name}: columns {header}, not {list(COLUMNS)}")
    if "#ERROR" in body.decode()[-500:]:
        raise Failed(f"{name}: the download ended with an error row")
    at = [header.index(c) for c in COLUMNS]
    return {tuple(row[i] for i in at) for row in reader}


def expected(db: Path) -> set[tuple[str, ...]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        cur = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM penduduk")
        return {tuple("" if v is None else str(v) for v in row) for row in cur}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = datasette()
    with tempfile.TemporaryDirectory(prefix="hub-downloads-") as tmp, Children() as kids, terminate_as_exit():
        work = Path(tmp)
        db = work / "dukcapil.db"
        print(f"generating {args.rows:,} residents ...", flush=True)
        generate(db, args.rows, args.seed)
        want = expected(db)
        urls = {"hub": start_hub(kids, work, db), "datasette": start_datasette(kids, work, db, command)}
        print(f"{datasette_version(command)}; hub download_page_rows 5000 (HUB_DOWNLOAD_PAGE_ROWS default)")
        times: dict[str, list[float]] = {name: [] for name in urls}
        with httpx.Client(timeout=600) as client:
            for name, url in urls.items():  # warm up, and check
                _, body = download(client, url)
                got = rows_of(body, name)
                lines = body.count(b"\n") - 1
                if got != want or lines != len(want):
                    raise Failed(f"{name}: {lines} rows, {len(got & want)} of the table's {len(want)}")
            order = list(urls)
            for round_ in range(args.rounds):
                for name in order if round_ % 2 == 0 else reversed(order):
                    seconds, _ = download(client, urls[name])
                    times[name].append(seconds)
        rows = len(want)
        median = {name: statistics.median(t) for name, t in times.items()}
        for name, m in median.items():
            spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
            print(f"{name:10} median {m:.3f} s ({spread}) {rows / m:>12,.0f} rows/s")
        ratio = median["datasette"] / median["hub"]
        mark = "✓" if ratio >= AIM else "✗"
        print(f"hub / datasette rows/s: {ratio:.2f}x (aim >= {AIM:.0f}x) {mark}  [{rows:,} rows, 4 columns]")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
