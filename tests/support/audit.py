"""Set-up shared by the audit tests (tests/test_audit_*.py): a hub on the test regency
whose store is a given SQLite file or PostgreSQL database, clients per subject, the
queries that release data, and ways to read the store behind the hub's back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from hub.http.app import Hub
from hub.settings import Settings
from hub.store.db import AuditRecord
from tests.support.databases import ScratchDatabase
from tests.support.hubcli import hub_env
from tests.support.regency import client_for, make_rows

AUDIT_KEY = "test-audit-key"

READ = """query Read($nik: String!) {
  dukcapil { penduduk(where: {nik: {eq: $nik}}) { nodes { nik nama } } }
}"""
MATCH = """query Check($records: [DukcapilPendudukMatchInput!]!) {
  dukcapil { pendudukMatch(records: $records) { index found nama } }
}"""
PLACES = "query Places { dukcapil { penduduk(first: 5) { nodes { kecamatan } } } }"


async def store_for(kind: str, tmp: Path) -> tuple[str, ScratchDatabase | None]:
    """A fresh hub store: a SQLite file, or a scratch database on the PostgreSQL server."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'hub.db'}", None
    db = await ScratchDatabase(kind, tmp).create()
    return db.url, db


@asynccontextmanager
async def in_process_hub(
    tmp: Path, store_url: str, subjects: tuple[str, ...] = ("user:tester",), raise_app_exceptions: bool = True
) -> AsyncIterator[tuple[Hub, dict[str, httpx.AsyncClient]]]:
    """A hub on `tmp/schema` and `tmp/policies` with the store at `store_url`, and one
    client per subject, each holding its own API key."""
    hub = await Hub.start(
        Settings(
            schema_dir=tmp / "schema",
            policies_dir=tmp / "policies",
            database_url=store_url,
            audit_key=AUDIT_KEY,
        )
    )
    callers: dict[str, httpx.AsyncClient] = {}
    try:
        for subject in subjects:
            callers[subject] = await client_for(hub, subject, raise_app_exceptions=raise_app_exceptions)
        yield hub, callers
    finally:
        for c in callers.values():
            await c.aclose()
        await hub.close()


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    purpose: str | None = None,
    path: str = "/graphql",
) -> httpx.Response:
    headers = {"X-Hub-Purpose": purpose} if purpose is not None else None
    return await client.post(path, json={"query": query, "variables": variables}, headers=headers)


def distinct_people(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows whose names are unique and unmistakable in a dump."""
    people, recipients = make_rows(n)
    for i, p in enumerate(people):
        p["nama"] = f"{p['nama'].title()} Warga{i:03d}"
    return people, recipients


def values_of(people: list[dict[str, Any]]) -> set[str]:
    return {v for p in people for v in (p["nik"], p["nama"])}


def fill(template: str, **values: Any) -> str:
    """`template` with each `<name>` replaced by the GraphQL literal of `values[name]`."""
    for name, value in values.items():
        template = template.replace(f"<{name}>", json.dumps(value))
    return template


async def audit_rows(url: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            stmt = sa.select(AuditRecord.__table__).order_by(AuditRecord.seq)
            return list((await conn.execute(stmt)).all())
    finally:
        await engine.dispose()


async def execute(url: str, statement: str, **params: Any) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), params)
    finally:
        await engine.dispose()


async def lock_waiters(conn: AsyncConnection) -> int:
    """Sessions of the connection's database waiting for a lock (a fresh snapshot each time:
    PostgreSQL keeps pg_stat_activity still for the rest of a transaction)."""
    q = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    try:
        return int((await conn.execute(sa.text(q))).scalar_one())
    finally:
        await conn.rollback()


def store_env(store_url: str) -> dict[str, str]:
    """The environment of a `hub` command on the store at `store_url`."""
    return hub_env(HUB_DATABASE_URL=store_url, HUB_AUDIT_KEY=AUDIT_KEY, HUB_LOG_LEVEL="WARNING")
