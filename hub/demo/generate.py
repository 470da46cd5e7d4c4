"""Generate the demo regency: one SQLite file per OPD, deterministic and generated once.

    >>> paths = generate(Path("var/demo"), residents=50_000)
    >>> sorted(paths)
    ['bappeda', 'bpkad', 'dinkes', 'dinsos', 'dukcapil']

The same seed and resident count give the same table contents, byte for byte: every
table draws from its own `random.Random` stream seeded from `seed`, and nothing reads the
clock ("today" is `regions.REFERENCE_DATE`). A `demo.json` marker records what was
generated; when it matches the request the call returns at once. Otherwise the files are
built in a temporary directory beside the targets and moved into place, marker last, so a
reader never sees a half-written regency and an interrupted run is simply redone.

Resident-derived tables (penduduk, penerima_bansos, imunisasi) scale with `residents`;
the agencies' tables (ssh, belanja, kegiatan, puskesmas) have fixed sizes.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from hub.demo import budget, health, people, planning, prices, welfare
from hub.demo.tables import Table, write

GENERATOR_VERSION = 1
MARKER = "demo.json"
MIN_RESIDENTS = 500
OPDS: dict[str, tuple[str, ...]] = {  # opd id -> its tables, in the order they are built
    "dukcapil": ("penduduk",),
    "dinsos": ("penerima_bansos",),
    "dinkes": ("puskesmas", "imunisasi"),
    "bpkad": ("ssh", "belanja"),
    "bappeda": ("kegiatan",),
}


def generate(
    data_dir: Path, *, residents: int = 50_000, seed: int = 20261128, progress: bool = True
) -> dict[str, Path]:
    """Make sure `data_dir` holds the demo regency for (`seed`, `residents`); return {opd: file}.

    Raises ValueError when `residents` is below MIN_RESIDENTS (the audit flaws the data
    carries, such as unknown and deceased welfare recipients, need a few hundred people).
    """
    if residents < MIN_RESIDENTS:
        raise ValueError(f"residents must be at least {MIN_RESIDENTS}, got {residents}")
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {opd: data_dir / f"{opd}.db" for opd in OPDS}
    wanted: dict[str, object] = {"generator": GENERATOR_VERSION, "seed": seed, "residents": residents}
    if _marker_matches(data_dir / MARKER, wanted) and all(p.is_file() for p in paths.values()):
        return paths
    columns = (TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    console = Console(stderr=True)
    with (
        Progress(*columns, console=console, disable=not progress) as bar,
        tempfile.TemporaryDirectory(dir=data_dir, prefix=".demo-") as tmp,
    ):
        tasks = {
            table: bar.add_task(f"{opd}.{table}", total=None, start=False)
            for opd, tables in OPDS.items()
            for table in tables
        }
        counts = _build(Path(tmp), residents, seed, bar, tasks)
        _install(Path(tmp), paths, data_dir / MARKER, {**wanted, "rows": counts})
    return paths


def _stream(seed: int, name: str) -> random.Random:
    """An independent, reproducible random stream per table (str seeds hash with SHA-512)."""
    return random.Random(f"{seed}/{name}")


def _build(tmp: Path, residents: int, seed: int, bar: Progress, tasks: dict[str, TaskID]) -> dict[str, int]:
    """Generate every table and write each OPD's file into `tmp`; return rows per table."""

    def advance(table: str, rows: int) -> None:
        bar.advance(tasks[table], rows)

    def begin(opd: str) -> None:
        for table in OPDS[opd]:
            bar.start_task(tasks[table])

    def save(opd: str, *tables: Table) -> None:
        for t in tables:
            bar.update(tasks[t.name], total=len(t.rows))
        write(tmp / f"{opd}.db", tables, advance)
        counts.update({f"{opd}.{t.name}": len(t.rows) for t in tables})

    counts: dict[str, int] = {}
    begin("dukcapil")
    register = people.residents(_stream(seed, "penduduk"), residents)
    save("dukcapil", people.penduduk_table(register))
    begin("dinsos")
    save("dinsos", welfare.penerima_bansos_table(_stream(seed, "penerima_bansos"), register))
    begin("dinkes")
    puskesmas = health.puskesmas_table(_stream(seed, "puskesmas"))
    save("dinkes", puskesmas, health.imunisasi_table(_stream(seed, "imunisasi"), register, puskesmas))
    begin("bpkad")
    items = prices.ssh_items(_stream(seed, "ssh"))
    save("bpkad", prices.ssh_table(items), budget.belanja_table(_stream(seed, "belanja"), items))
    begin("bappeda")
    save("bappeda", planning.kegiatan_table(_stream(seed, "kegiatan")))
    return counts


def _marker_matches(marker: Path, wanted: dict[str, object]) -> bool:
    try:
        found = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and all(found.get(k) == v for k, v in wanted.items())


def _install(tmp: Path, paths: dict[str, Path], marker: Path, content: dict[str, object]) -> None:
    """Move the new files over the old ones, the marker last (it vouches for the rest)."""
    marker.unlink(missing_ok=True)
    for path in paths.values():
        for leftover in ("-wal", "-shm", "-journal"):  # a stale WAL would be replayed onto the new file
            path.with_name(path.name + leftover).unlink(missing_ok=True)
        os.replace(tmp / path.name, path)
    staged = tmp / MARKER
    staged.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(staged, marker)
