"""`pip install .`, not editable, gives a hub that runs from any directory.

The project's files (tracked, or new and not ignored) are copied out of the clone and
installed into a fresh virtual environment, so nothing can come from the source tree.
From an empty temporary directory, that installation's `hub migrate` creates a store,
`hub demo` builds the regency and answers /readyz, and `hub serve` serves the demo's
catalog and policy from where the package put them. Migrations, the demo catalog and
the policy files are package data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hub.http.ide import FILES, PREFIX
from tests.support.hubcli import hub_env, run_hub, running_hub

ROOT = Path(__file__).resolve().parents[1]


def project_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("the project's files are listed by git; this is not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return [name for name in listed.decode().split("\0") if name and os.path.lexists(ROOT / name)]


def copy_project(target: Path) -> Path:
    for name in project_files():
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            dest.symlink_to(os.readlink(ROOT / name))
        else:
            shutil.copy2(ROOT / name, dest)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin/` of a fresh virtual environment with the project installed from a copy."""
    work = tmp_path_factory.mktemp("packaging")
    source = copy_project(work / "source")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    shutil.rmtree(source)  # whatever the installation needs, it holds itself
    return venv / "bin"


def package_dir(bin_dir: Path, module: str) -> Path:
    found = subprocess.run(
        [str(bin_dir / "python"), "-c", f"import {module}, pathlib; print(pathlib.Path({module}.__file__).parent)"],
        cwd=bin_dir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(found.stdout.strip())


def test_the_installation_is_not_the_source_tree(installed: Path) -> None:
    where = package_dir(installed, "hub")
    assert where.is_relative_to(installed.parent), where
    for data in ("demo/schema/dukcapil.yaml", "demo/policies/model.conf", "store/migrations/env.py"):
        assert (where / data).is_file(), data


async def test_hub_migrate_creates_a_store_from_any_directory(installed: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    env = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{store}")
    ran = await run_hub("migrate", cwd=tmp_path, env=env, timeout=120, hub=installed / "hub")
    assert ran.code == 0, ran.stderr
    assert "store migrated" in ran.stdout + ran.stderr
    assert store.is_file()


def test_hub_demo_and_hub_serve_answer_readyz_from_a_temporary_directory(
    installed: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    args = ("demo", "--residents", "500", "--port", "0")
    with running_hub(*args, cwd=run, env=hub_env(), log=tmp_path / "demo.log", hub=installed / "hub") as demo:
        ready = httpx.get(f"{demo.base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["sources"]) >= {"dukcapil.main", "dinsos.main"}
        # GraphiQL's files are installed with the package (hub/http/static)
        for name in FILES:
            asset = httpx.get(f"{demo.base}{PREFIX}{name}", timeout=10)
            assert asset.status_code == 200 and len(asset.content) > 4_000, (name, asset.status_code)
    data = run / "var" / "demo"
    assert (data / "dukcapil.db").is_file() and (
        data / "hub.db"
    ).is_file()  # where it ran, not in the package

    demo_files = package_dir(installed, "hub.demo")
    env = hub_env(HUB_DEMO_DIR=str(data), HUB_DATABASE_URL=f"sqlite+aiosqlite:///{data / 'hub.db'}")
    args = (
        "serve",
        "--schema",
        str(demo_files / "schema"),
        "--policies",
        str(demo_files / "policies"),
        "--port",
        "0",
    )
    with running_hub(*args, cwd=run, env=env, log=tmp_path / "serve.log", hub=installed / "hub") as served:
        ready = httpx.get(f"{served.base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
