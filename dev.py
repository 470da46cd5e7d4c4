#!/usr/bin/env python3
"""One entry point for a fresh machine that has only Python 3.11+.

    python3 dev.py demo     # build the demo regency once and serve it on http://127.0.0.1:8000
    python3 dev.py test     # lint (ruff), types (mypy) and the whole pytest suite

Both create `.venv/` beside this file on first use and reinstall the project into it
whenever `pyproject.toml` changes. Extra arguments are passed on: `python3 dev.py demo
--port 9000`, `python3 dev.py test -k catalog` (with arguments, only pytest runs).
The `hub` command itself is then `.venv/bin/hub` (`hub clients create`, `hub audit tail`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".opd-hub-installed"


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"dev.py: creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing opd-hub and its dependencies into .venv", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(*cmd: str) -> int:
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def test(args: list[str]) -> int:
    if args:
        return run(str(BIN / "pytest"), *args)
    for gate in (
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy")],
        [str(BIN / "pytest")],
    ):
        code = run(*gate)
        if code:
            return code
    return 0


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - say so plainly on an old interpreter
        print(f"OPD Hub needs Python 3.11 or newer; this is {sys.version.split()[0]}", file=sys.stderr)
        return 1
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "install"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = sys.argv[1], sys.argv[2:]
    ensure_venv()
    if command == "install":
        return 0
    if command == "demo":
        return run(str(BIN / "hub"), "demo", *args)
    return test(args)


if __name__ == "__main__":
    sys.exit(main())
