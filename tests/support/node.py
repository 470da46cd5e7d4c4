"""Node.js tools the suite runs (`tests/node/`, installed by `npm ci --prefix tests/node`).

A missing `node` or package skips the test with a reason, or fails it when
HUB_REQUIRE_SERVICES=1 (CI), as a missing database server does.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
# Lines for the end of the pytest run (tests/conftest.py prints them): the audit's counts,
# and the fuzz profile's (tests/test_fuzz.py).
SUMMARY: list[str] = []


def require_node_package(package: str) -> str:
    """The path of `node` once `package` is installed under tests/node; else skip (or fail)."""
    node = shutil.which("node")
    if node is None:
        reason = "node is not on PATH"
    elif not (NODE_DIR / "node_modules" / package / "package.json").exists():
        reason = f"{package} is not installed: run `npm ci --prefix tests/node`"
    else:
        return node
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + "; HUB_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)
