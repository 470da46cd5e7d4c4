"""Which store the `hub` commands take, and what they say about it: no command makes
an empty second store silently."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.hubcli import hub_env, run_hub

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
