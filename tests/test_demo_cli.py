"""`hub demo` as a newcomer runs it, following README.md: it builds the regency, prints
keys, example requests and the admin commands, serves, and all of it works as printed,
from the same directory, in a fresh shell (no HUB_* variables)."""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.audit.log import query_hash
from hub.demo.serve import examples, hub_command
from tests.support.hubcli import Running, hub_env, running_hub

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
KEY_LINE = re.compile(r"^export (\w+_KEY)=(\S+)", re.MULTILINE)
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


@dataclass(frozen=True)
class Demo:
    run: Running
    cwd: Path  # where the demo was started, as a clone's root
    data: Path
    keys: dict[str, str]
    printed: str


@contextmanager
def start_demo(cwd: Path, data_dir: str) -> Iterator[Demo]:
    # 20,000 residents: about 25 of their recipients are dead, enough for the analyst's
    # per-programme count of them to publish groups (smaller ones are never published as such)
    args = ("demo", "--residents", "20000", "--data-dir", data_dir, "--port", "0")
    with running_hub(*args, cwd=cwd, env=hub_env(), log=cwd / "demo.log") as run:
        printed = run.printed()
        yield Demo(run, cwd, (cwd / data_dir).resolve(), dict(KEY_LINE.findall(printed)), printed)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with start_demo(tmp_path_factory.mktemp("clone"), "var/demo") as started:
        yield started


def ask(demo: Demo, query: str, key_var: str | None, path: str = "/graphql") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {demo.keys[key_var]}"} if key_var else {}
    r = httpx.post(f"{demo.run.base}{path}", json={"query": query}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def admin_commands(printed: str) -> list[str]:
    """The shell lines the demo prints under its `# More keys …` heading."""
    _, found, rest = printed.partition("# More keys")
    assert found, printed
    lines = rest.split("\n\n", 1)[0].splitlines()[1:]
    return [line for line in lines if not line.startswith("#")]


def shell(lines: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the lines as a user pasting them into a new shell there."""
    return subprocess.run(
        ["bash", "-c", "set -e\n" + "\n".join(lines)], cwd=cwd, env=hub_env(), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def has_nodes(value: Any) -> bool:
    """Whether an answer holds rows: a connection's nodes, or an aggregate's groups."""
    if isinstance(value, dict):
        return bool(value.get("nodes")) or any(has_nodes(v) for v in value.values())
    return (
        isinstance(value, list) and bool(value) and all(isinstance(g, dict) and "group" in g for g in value)
    )


def test_demo_serves_and_every_printed_example_answers(demo: Demo) -> None:
    assert set(demo.keys) == {"DINSOS_KEY", "DUKCAPIL_KEY", "ANALYST_KEY"}, demo.printed
    shown = examples(demo.run.base, demo.data)
    assert len(shown) >= 3 and demo.printed.count("curl -s ") == len(shown)
    for title, path, key_var, payload in shown:
        headers = {"Authorization": f"Bearer {demo.keys[key_var]}"} if key_var else {}
        r = httpx.post(f"{demo.run.base}{path}", json=payload, headers=headers, timeout=30)
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, (title, body)
        (namespace,) = body["data"].values()
        (answer,) = namespace.values()
        assert answer, (title, body)  # a non-empty answer, not just no error


def test_readme_counts_the_keys_and_examples_the_demo_prints(demo: Demo) -> None:
    said = re.search(r"prints (\w+) demo keys .*? and (\w+) example requests", section("Two commands"), re.S)
    assert said, "README.md's 'Two commands' no longer says what the demo prints"
    keys, requests = (NUMBERS[word] for word in said.groups())
    assert keys == len(demo.keys)
    assert requests == demo.printed.count("curl -s ") == len(examples(demo.run.base, demo.data))


def test_readme_queries_run_in_full_with_the_demo_key_they_name(demo: Demo) -> None:
    """Each query under 'Querying' names the printed key to send; with it the query
    answers rows (or groups) and no error (the policy is not loosened for it: privacy wins)."""
    blocks = re.findall(r"```graphql\n(.*?)```", section("Querying"), re.S)
    assert blocks
    for block in blocks:
        named = re.findall(r"\b([A-Z]+_KEY)\b", block.splitlines()[0])
        assert len(named) == 1 and named[0] in demo.keys, f"no demo key named in: {block.splitlines()[0]}"
        body = ask(demo, block, named[0])
        assert "errors" not in body and has_nodes(body["data"]), (block, body)


def test_printed_admin_commands_work_from_the_demo_directory_on_the_demo_store(demo: Demo) -> None:
    """`hub clients create` as printed makes a key the running demo accepts (not one in
    a second, empty var/hub.db), and `hub audit tail` as printed reads the demo's log."""
    create, tail = admin_commands(demo.printed)
    assert "clients create" in create and "audit tail" in tail, demo.printed
    made = shell([create], demo.cwd)
    assert made.returncode == 0, made.stderr
    assert "var/demo/hub.db" in made.stderr  # it says which store it used, and why
    assert not (demo.cwd / "var" / "hub.db").exists()
    key = made.stdout.strip()
    r = httpx.post(f"{demo.run.base}/graphql", json={"query": "{ catalog { opds { id } } }"},
                   headers={"Authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip
    assert r.status_code == 200 and "errors" not in r.json(), r.text

    assert "errors" not in ask(
        demo, "query TailMe { dukcapil { penduduk(first: 1) { nodes { nama } } } }", "DUKCAPIL_KEY"
    )
    read = shell([tail], demo.cwd)
    assert read.returncode == 0 and "opd:dukcapil" in read.stdout and "TailMe" in read.stdout, read


def test_demo_keeps_its_own_audit_key_and_does_not_warn(demo: Demo) -> None:
    assert "HUB_AUDIT_KEY" not in demo.printed
    kept = demo.data / "audit.key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    query = "query KeyedHash { dukcapil { penduduk(first: 2) { nodes { nik nama } } } }"
    assert "errors" not in ask(demo, query, "DUKCAPIL_KEY")
    assert stored_hash(demo.data, "KeyedHash") == query_hash(kept.read_text().strip().encode(), query, None)


def stored_hash(data: Path, operation: str) -> str:
    with sqlite3.connect(data / "hub.db") as conn:
        row = conn.execute(
            "SELECT query_hash FROM audit_log WHERE operation = ? ORDER BY seq DESC LIMIT 1", (operation,)
        ).fetchone()
    assert row, f"no audit record of {operation}"
    return str(row[0])


def test_demo_started_elsewhere_prints_the_export_line_and_keeps_its_audit_key(demo: Demo) -> None:
    """Started from another directory, the admin commands there would not find the
    demo's store: the demo prints the one `export` line that points them at it. A
    restarted demo reuses its audit key (and its keys)."""
    elsewhere = demo.cwd / "elsewhere"
    elsewhere.mkdir()
    with start_demo(elsewhere, str(demo.data)) as again:
        assert again.keys == demo.keys and "HUB_AUDIT_KEY" not in again.printed
        lines = admin_commands(again.printed)
        assert lines[0] == f"export HUB_DATABASE_URL=sqlite+aiosqlite:///{demo.data / 'hub.db'}", lines
        made = shell(lines[:2], elsewhere)
        assert made.returncode == 0, made.stderr
        assert not (elsewhere / "var").exists()
        r = httpx.post(f"{again.run.base}/graphql", json={"query": "{ catalog { opds { id } } }"},
                       headers={"Authorization": f"Bearer {made.stdout.strip()}"}, timeout=30)  # fmt: skip
        assert r.status_code == 200 and "errors" not in r.json(), r.text

        query = "query AfterRestart { dukcapil { penduduk(first: 1) { nodes { nik } } } }"
        assert "errors" not in ask(again, query, "DUKCAPIL_KEY")
        key = (demo.data / "audit.key").read_text().strip().encode()
        assert stored_hash(demo.data, "AfterRestart") == query_hash(key, query, None)


def test_readme_and_demo_run_hub_from_the_clone_where_it_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`hub` is not on PATH after `python3 dev.py demo`: README's shell lines and the
    demo's printed commands name `.venv/bin/hub`, which dev.py installs."""
    import dev

    invoked = [
        line.split()[0]
        for block in re.findall(r"```sh\n(.*?)```", README, re.S)
        for line in block.splitlines()
        if re.match(r"\S*hub\s", line)
    ]
    assert invoked and set(invoked) == {".venv/bin/hub"}, invoked
    assert (dev.BIN / "hub").relative_to(dev.ROOT) == Path(".venv/bin/hub")

    venv_bin = Path(sys.executable).parent
    monkeypatch.chdir(venv_bin.parent.parent)  # the clone, when the tests run from its .venv
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert hub_command() == str(Path(venv_bin.parent.name, "bin", "hub"))
