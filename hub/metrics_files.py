"""The workers' directory of counts (`hub serve --workers N`, hub/metrics.py): made
fresh for each run (`run_directory`), and read whole (`read_all`).

Each worker process counts into files of its own, named by its pid (prometheus_client's
multiprocess mode): `counter_<pid>.db`, `histogram_<pid>.db`, `gauge_live*_<pid>.db`.
A scrape, from whichever worker answers, first tidies up after the workers that died:

- their live gauges (breakers, cache sizes) are dropped: a replaced worker's last sizes
  must not be added to its successor's;
- their counts and latencies are folded into `counter_folded.db` and
  `histogram_folded.db`, summed key by key, and their files removed. The totals stay
  what they were, but the directory and the time a scrape takes stop growing with every
  worker that ever ran (a worker killed and replaced a thousand times left two thousand
  files behind, each read at every scrape).

Everything a scrape does happens under an exclusive lock on `fold.lock` in the
directory, so no scrape reads a fold half done; the living workers write their own files
and never take it. A fold interrupted (the scraping worker killed) is finished or undone
by the next scrape, from `<type>.folding`, which names the files being folded:

    1. write the new sums to `<type>_folded.next`   (not read: only `*.db` files are)
    2. write `<type>.folding`, naming the dead files
    3. rename `<type>_folded.next` to `<type>_folded.db`
    4. remove the dead files, then `<type>.folding`

Found with `.folding`: without `.next`, step 3 was done and step 4 is finished; with it,
step 3 was not, and both are removed (the dead files are folded again).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

PREFIX = "opd-hub-metrics-"  # then the parent's pid: opd-hub-metrics-<pid>-<random>
FOLDED = ("counter", "histogram")  # the kinds whose values are sums over every worker


@contextmanager
def run_directory() -> Iterator[str]:
    """A fresh directory for one run of workers, under `TMPDIR` and named by this process's
    pid, removed when the run ends. Files left from an earlier run would be added in, so
    each run has its own; a run's parent killed outright (SIGKILL) leaves its directory
    behind, and the next run removes every directory whose parent is no longer running."""
    under = Path(tempfile.gettempdir())
    for left in under.glob(f"{PREFIX}*-*"):
        pid = left.name.removeprefix(PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-") as directory:
        yield directory


def read_all(directory: str) -> bytes:
    """Every worker's metrics in Prometheus's text format, the dead ones' counts included."""
    where = Path(directory)
    with _locked(where):
        _forget_the_dead(where)
        for kind in FOLDED:
            _finish(where, kind)
            _fold(where, kind)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, directory)  # type: ignore[no-untyped-call]
        return generate_latest(every_worker)


def _forget_the_dead(directory: Path) -> None:
    """Drop the live gauges (breakers, cache sizes) of workers no longer running."""
    for pid in _dead({_pid(file) for file in directory.glob("gauge_live*_*.db")}):
        mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / "fold.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _fold(directory: Path, kind: str) -> None:
    """Fold the files of `kind` of every dead worker into `<kind>_folded.db`."""
    files = {_pid(f): f for f in directory.glob(f"{kind}_*.db") if f.stem.rsplit("_", 1)[1].isdigit()}
    dead = [files[pid] for pid in sorted(_dead(set(files)))]
    if not dead:
        return
    folded = directory / f"{kind}_folded.db"
    sums: dict[str, float] = {}
    for file in [folded, *dead] if folded.exists() else dead:
        for key, value in _values(file):
            sums[key] = sums.get(key, 0.0) + value
    following = directory / f"{kind}_folded.next"  # none left: `_finish` ran first
    _write(following, sums)
    _write_new(directory / f"{kind}.folding", json.dumps([f.name for f in dead]))
    os.replace(following, folded)
    _finish(directory, kind)


def _finish(directory: Path, kind: str) -> None:
    """Finish or undo a fold of `kind` that was interrupted; nothing when none was."""
    intent, following = directory / f"{kind}.folding", directory / f"{kind}_folded.next"
    if intent.exists() and not following.exists():  # renamed: the dead files are in the sums
        for name in json.loads(intent.read_text()):
            (directory / name).unlink(missing_ok=True)
    intent.unlink(missing_ok=True)
    following.unlink(missing_ok=True)


def _values(file: Path) -> Iterator[tuple[str, float]]:
    """The (key, value) pairs of one worker's file."""
    found = MmapedDict.read_all_values_from_file(str(file))  # type: ignore[no-untyped-call]
    for key, value, _timestamp, _position in found:
        yield key, value


def _write(file: Path, sums: dict[str, float]) -> None:
    written = MmapedDict(str(file))  # type: ignore[no-untyped-call]
    try:
        for key, value in sums.items():
            written.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        written.close()  # type: ignore[no-untyped-call]


def _write_new(path: Path, text: str) -> None:
    """`text` in `path`, whole or not at all."""
    draft = path.with_name(path.name + ".draft")
    draft.write_text(text)
    os.replace(draft, path)


def _pid(file: Path) -> int:
    return int(file.stem.rsplit("_", 1)[1])


def _dead(pids: set[int]) -> set[int]:
    return {pid for pid in pids if not _running(pid)}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True


__all__ = ["read_all", "run_directory"]
