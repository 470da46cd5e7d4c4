"""Which store and which port the `hub` commands take, and what they say about it: no
command makes an empty second store silently, and a busy port stops `serve` and `demo`
before they do or print anything."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hubcli import hub_env, run_hub, running_hub

REPO = Path(__file__).resolve().parents[1]
CATALOG = ("--schema", str(REPO / "schema"), "--policies", str(REPO / "policies"))
READERS = [("clients", "list"), ("clients", "revoke", "0123456789abcdef"),
           ("audit", "verify"), ("audit", "head"), ("audit", "tail")]  # fmt: skip


async def test_commands_that_only_read_never_create_a_store(tmp_path: Path) -> None:
    elsewhere = tmp_path / "other" / "hub.db"
    named = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{elsewhere}")
    *ran, given = await asyncio.gather(
        *(run_hub(*command, cwd=tmp_path) for command in READERS),
        run_hub("audit", "verify", cwd=tmp_path, env=named),
    )
    for command, default in zip(READERS, ran, strict=True):
        assert default.code == 1 and "no hub store at var/hub.db" in default.stderr, (command, default)
        assert "HUB_DATABASE_URL" in default.stderr
    assert given.code == 1 and f"no hub store at {elsewhere}" in given.stderr, given
    assert not (tmp_path / "var").exists() and not elsewhere.parent.exists()


async def test_clients_create_says_when_it_creates_a_new_store(tmp_path: Path) -> None:
    made = await run_hub("clients", "create", "opd:dinkes", cwd=tmp_path)
    assert made.code == 0, made
    assert "creating a new, empty hub store at var/hub.db" in made.stderr
    again = await run_hub("clients", "create", "opd:dinkes", cwd=tmp_path)
    assert again.code == 0 and "new" not in again.stderr, again  # the store is there now
    listed = await run_hub("clients", "list", cwd=tmp_path)
    assert listed.code == 0 and len(listed.stdout.splitlines()) == 2, listed


async def test_admin_commands_use_the_demo_store_when_there_is_no_other(tmp_path: Path) -> None:
    """Without HUB_DATABASE_URL and var/hub.db, the store `hub demo` keeps in
    var/demo/hub.db is the one the admin commands use (and they say so)."""
    demo_store = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'var' / 'demo' / 'hub.db'}")
    assert (await run_hub("migrate", cwd=tmp_path, env=demo_store)).code == 0
    made = await run_hub("clients", "create", "opd:dinkes", "--name", "found", cwd=tmp_path)
    assert made.code == 0, made
    assert "using the demo's store var/demo/hub.db" in made.stderr and "new" not in made.stderr
    listed = await run_hub("clients", "list", cwd=tmp_path, env=demo_store)
    assert "\topd:dinkes\tfound\t" in listed.stdout, listed
    assert not (tmp_path / "var" / "hub.db").exists()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


async def test_demo_on_a_busy_port_stops_before_it_generates_or_prints(
    tmp_path: Path, busy_port: int
) -> None:
    data = tmp_path / "demo"
    ran = await run_hub(
        "demo",
        "--port",
        str(busy_port),
        "--data-dir",
        str(data),
        "--residents",
        "500",
        cwd=tmp_path,
        timeout=30,
    )
    assert ran.code != 0, ran
    assert f"port {busy_port} on 127.0.0.1 is in use" in ran.stderr and "--port" in ran.stderr, ran.stderr
    assert "export" not in ran.stderr and "curl" not in ran.stderr and "Errno" not in ran.stderr
    assert not data.exists()  # nothing generated, no keys made


async def test_serve_on_a_busy_port_stops_before_it_starts(tmp_path: Path, busy_port: int) -> None:
    ran = await run_hub("serve", "--port", str(busy_port), *CATALOG, cwd=tmp_path, timeout=30)
    assert ran.code != 0, ran
    assert f"port {busy_port} on 127.0.0.1 is in use" in ran.stderr, ran.stderr
    assert "--port or HUB_PORT" in ran.stderr and "Errno" not in ran.stderr
    assert not (tmp_path / "var").exists()  # no store made either


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_serve_says_why_it_stopped_in_its_log_format(
    tmp_path: Path, busy_port: int, log_format: str
) -> None:
    """A log pipeline reading JSON lines gets a start-up failure as one ERROR record; a
    terminal (`text`) gets the sentence itself."""
    env = hub_env(HUB_LOG_FORMAT=log_format)
    ran = await run_hub("serve", "--port", str(busy_port), *CATALOG, cwd=tmp_path, env=env, timeout=30)
    assert ran.code == 1, ran
    said = f"port {busy_port} on 127.0.0.1 is in use"
    if log_format == "text":
        assert ran.stderr.startswith(said), ran.stderr
        return
    records = [json.loads(line) for line in ran.stderr.splitlines()]
    assert [(r["level"], r["logger"]) for r in records] == [("ERROR", "hub.serve")], ran.stderr
    assert records[0]["message"].startswith(said) and "--port or HUB_PORT" in records[0]["message"]


def test_serve_without_an_audit_key_warns_and_says_it_creates_a_store(tmp_path: Path) -> None:
    env = hub_env(HUB_DEMO_DIR=str(tmp_path / "no-demo-data"))
    args = ("serve", "--port", "0", *CATALOG)
    log = tmp_path / "serve.log"
    with running_hub(*args, cwd=tmp_path, env=env, log=log, timeout=60) as served:
        printed = served.printed()  # start-up, with its warnings, is over once /healthz answers
    assert "HUB_AUDIT_KEY is not set" in printed
    assert "creating a new, empty hub store at var/hub.db" in printed
    assert (tmp_path / "var" / "hub.db").exists()
