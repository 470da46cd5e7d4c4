"""The workers' directory of counts (hub/metrics_files.py): a scrape folds the files of
dead workers into one set, with the totals unchanged, so the directory stops growing with
every worker that ever ran; a fold interrupted at any step is finished or undone by the
next scrape; scrapes from several processes at once agree. The "workers" are real
processes counting through `hub.metrics.Metrics` in multiprocess mode, as under `hub serve
--workers N`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub import metrics_files
from hub.metrics_files import read_all

REPO = Path(__file__).resolve().parents[1]

# workers' lives: one forked worker per argument, answering that many requests, each
# timed, with a cache of as many documents; with `--stay`, one more that then waits
# (alive) until stdin closes
WORKERS = """
import os, sys
from hub.metrics import Metrics

def live(n):
    m = Metrics()
    for i in range(n):
        m.child(m.requests, "/graphql", "200").inc()
        m.child(m.request_seconds, "/graphql").observe(0.003 * (i % 5))
    m.child(m.cache_entries, "main", "documents").set(n)

stay = "--stay" in sys.argv
for n in [int(a) for a in sys.argv[1:] if a != "--stay"]:
    child = os.fork()
    if child == 0:
        live(n)
        os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
if stay:
    live(5)
print("counted", flush=True)
if stay:
    sys.stdin.read()
"""


def _env(directory: Path) -> dict[str, str]:
    return os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO)}


def _workers_lived(directory: Path, *lives: int) -> set[int]:
    """Run one worker to its end for each of `lives`; their pids."""
    before = _pids(directory)
    ran = subprocess.run(
        [sys.executable, "-c", WORKERS, *map(str, lives)],
        env=_env(directory),
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.strip() == "counted", ran.stderr
    pids = _pids(directory) - before
    assert len(pids) == len(lives)
    return pids


@contextmanager
def _living_worker(directory: Path) -> Iterator[int]:
    """A worker that answered 5 requests and lives on."""
    process = subprocess.Popen(
        [sys.executable, "-c", WORKERS, "--stay"],
        env=_env(directory),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "counted"
        yield process.pid
    finally:
        process.communicate("")


def _pids(directory: Path) -> set[int]:
    return {
        int(f.stem.rsplit("_", 1)[1]) for f in directory.glob("*.db") if f.stem.rsplit("_", 1)[1].isdigit()
    }


def _expected(lives: list[int]) -> dict[str, float]:
    """What the scrape must report after workers that answered `lives` requests each."""
    seconds = [0.003 * (i % 5) for n in lives for i in range(n)]
    return {
        "hub_requests_total": float(sum(lives)),
        "hub_request_seconds_count": float(len(seconds)),
        "hub_request_seconds_sum": sum(seconds),
        "le=0.005": float(sum(1 for s in seconds if s <= 0.005)),
        "le=0.01": float(sum(1 for s in seconds if s <= 0.01)),
        "le=+Inf": float(len(seconds)),
    }


def _scraped(text: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("route") != "/graphql":
                continue
            name = f"le={s.labels['le']}" if s.name.endswith("_bucket") else s.name
            if name in ("hub_requests_total", "hub_request_seconds_count", "hub_request_seconds_sum") or (
                name in ("le=0.005", "le=0.01", "le=+Inf")
            ):
                found[name] = s.value
    return found


def _cache_entries(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "hub_document_cache_entries":
                return s.value
    return 0.0


def _assert_totals(text: str, lives: list[int]) -> None:
    got, want = _scraped(text), _expected(lives)
    assert got.keys() == want.keys(), got
    for name, value in want.items():
        assert got[name] == pytest.approx(value), name


def test_dead_workers_are_folded_into_one_set_and_the_totals_stay(tmp_path: Path) -> None:
    lives = [7, 3, 11]
    dead = _workers_lived(tmp_path, *lives)
    with _living_worker(tmp_path) as living:
        assert len(list(tmp_path.glob("*.db"))) == 3 * len(lives) + 3  # counter, histogram, gauge each

        text = read_all(str(tmp_path)).decode()
        _assert_totals(text, [*lives, 5])
        assert _cache_entries(text) == 5  # the living worker's sizes only
        names = {f.name for f in tmp_path.glob("*.db")}
        assert names == {"counter_folded.db", "histogram_folded.db"} | {
            f"{kind}_{living}.db" for kind in ("counter", "histogram", "gauge_livesum")
        }
        assert not dead & _pids(tmp_path)

        again = read_all(str(tmp_path)).decode()  # nothing more to fold: the same
        _assert_totals(again, [*lives, 5])

    (later,) = _workers_lived(tmp_path, 4)  # the folded sums grow by the next dead worker's
    text = read_all(str(tmp_path)).decode()
    _assert_totals(text, [*lives, 5, 4])
    assert _cache_entries(text) == 0
    assert {f.name for f in tmp_path.iterdir()} == {"counter_folded.db", "histogram_folded.db", "fold.lock"}
    assert later not in _pids(tmp_path)


class Crash(Exception):
    """The scraping worker dies here."""


def _crash_writing_the_intent(monkeypatch: pytest.MonkeyPatch) -> None:
    """After step 1: the new sums are written, nothing names them yet."""

    def crash(path: Path, text: str) -> None:
        raise Crash

    monkeypatch.setattr(metrics_files, "_write_new", crash)


def _crash_renaming(monkeypatch: pytest.MonkeyPatch) -> None:
    """After step 2: the dead files are named, the new sums not yet in place."""
    real = os.replace

    def replace(src: Any, dst: Any) -> None:
        if str(src).endswith("_folded.next"):
            raise Crash
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def _crash_removing(monkeypatch: pytest.MonkeyPatch) -> None:
    """After step 3: the new sums are in place, the dead files not yet removed."""
    real = metrics_files._finish

    def finish(directory: Path, kind: str) -> None:
        if (directory / f"{kind}.folding").exists():
            raise Crash
        real(directory, kind)

    monkeypatch.setattr(metrics_files, "_finish", finish)


@pytest.mark.parametrize("crash", [_crash_writing_the_intent, _crash_renaming, _crash_removing])
def test_a_fold_interrupted_at_any_step_is_finished_or_undone_by_the_next_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash: Callable[[pytest.MonkeyPatch], None]
) -> None:
    first = [6, 2]
    _workers_lived(tmp_path, *first)
    read_all(str(tmp_path))  # a folded set exists: an interrupted fold must not lose it either
    second = [9, 1]
    _workers_lived(tmp_path, *second)

    with monkeypatch.context() as patched:
        crash(patched)
        with pytest.raises(Crash):
            read_all(str(tmp_path))
    left = {f.suffix for f in tmp_path.iterdir()}
    assert left & {".next", ".folding"}, "the crash left no half-done fold to test"

    text = read_all(str(tmp_path)).decode()
    _assert_totals(text, first + second)
    assert {f.name for f in tmp_path.iterdir()} == {"counter_folded.db", "histogram_folded.db", "fold.lock"}


SCRAPE = """
import json, sys
from hub.metrics_files import read_all
from prometheus_client.parser import text_string_to_metric_families
print("ready", flush=True)
sys.stdin.readline()
text = read_all(sys.argv[1]).decode()
print(json.dumps([s.value for f in text_string_to_metric_families(text) for s in f.samples
                  if s.name == "hub_requests_total"]))
"""


def test_scrapes_from_several_processes_at_once_all_report_the_totals(tmp_path: Path) -> None:
    lives = list(range(1, 301))  # 300 dead workers, folded by whichever scrape is first
    _workers_lived(tmp_path, *lives)
    scrapes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRAPE, str(tmp_path)],
            env=_env(tmp_path),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for scrape in scrapes:
        assert scrape.stdout is not None and scrape.stdout.readline().strip() == "ready"
    for scrape in scrapes:  # all at once
        assert scrape.stdin is not None
        scrape.stdin.write("go\n")
        scrape.stdin.flush()
    for scrape in scrapes:
        out, _ = scrape.communicate(timeout=60)
        assert scrape.returncode == 0
        assert json.loads(out) == [float(sum(lives))]
    assert {f.name for f in tmp_path.iterdir()} == {"counter_folded.db", "histogram_folded.db", "fold.lock"}
