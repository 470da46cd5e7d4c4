"""hub.store.db: the store is migrated at start, and Alembic runs only when it must."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from hub.store import db as store_db
from hub.store.db import HEAD, _alembic_config, migrate_async, revision, store_engine
from hub.store.secrets import kept_secret
from tests.support.databases import ScratchDatabase


def test_head_is_the_newest_alembic_revision() -> None:
    script = ScriptDirectory.from_config(_alembic_config("sqlite://"))  # type: ignore[arg-type]
    assert script.get_current_head() == HEAD


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_new_store_is_migrated_and_a_current_one_is_left_to_itself(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await ScratchDatabase(kind, tmp_path).create()
    try:
        assert await revision(db.url) is None
        await migrate_async(db.url)
        assert await revision(db.url) == HEAD
        engine = store_engine(db.url)
        try:
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        finally:
            await engine.dispose()
        assert {"clients", "audit_log", "audit_access", "audit_head"} <= tables

        def alembic(_url: str) -> None:
            raise AssertionError("Alembic ran on a store at HEAD")

        monkeypatch.setattr(store_db, "migrate", alembic)
        await migrate_async(db.url)
    finally:
        await db.drop()


async def test_a_store_behind_head_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    from alembic import command

    await asyncio.to_thread(command.upgrade, _alembic_config(url), "0001")  # type: ignore[arg-type]
    assert await revision(url) == "0001"
    await migrate_async(url)
    assert await revision(url) == HEAD


async def test_an_unreachable_store_fails_as_alembic_says() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/none"  # nothing listens on port 1
    assert await revision(url) is None
    with pytest.raises(OSError):
        await migrate_async(url)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_kept_secret_is_drawn_once_and_the_same_for_every_process(kind: str, tmp_path: Path) -> None:
    """Ten processes' first starts race for the disclosure key: one draws it, all read it."""
    db = await ScratchDatabase(kind, tmp_path).create()
    try:
        await migrate_async(db.url)
        engines = [store_engine(db.url) for _ in range(10)]
        try:
            drawn = await asyncio.gather(*(kept_secret(e, "disclosure_key") for e in engines))
            again = await kept_secret(engines[0], "disclosure_key")
            other = await kept_secret(engines[0], "another")
        finally:
            for e in engines:
                await e.dispose()
        assert len(set(drawn)) == 1 and again == drawn[0] and len(drawn[0]) == 64
        assert other != drawn[0]
    finally:
        await db.drop()


async def test_two_hub_processes_starting_on_one_new_sqlite_store_both_start(tmp_path: Path) -> None:
    """They used to migrate at once and one failed ("table ... already exists")."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'hub.db'}"
    await asyncio.gather(*(asyncio.to_thread(store_db.migrate, url) for _ in range(4)))
    assert await revision(url) == HEAD
