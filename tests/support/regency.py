"""A small regency for tests: residents in one database, welfare recipients in another.

The rows are generated deterministically with NULLs, ties, mixed case, large
integers and decimals, so that filters, ordering and pagination meet the awkward
cases. `load_regency` puts them in scratch databases under the catalog of
tests/support/catalogs.py; `Regency` serves them through a real hub (the ASGI app over
httpx) and keeps the rows in Python as the oracle tests compare against.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub.http.app import Hub, create_app
from hub.settings import Settings
from hub.store import clients
from tests.support.catalogs import Spec, write_catalog
from tests.support.databases import ScratchDatabase

KECAMATAN = ["Meral", "Karimun", "Tebing", "Kundur", "Moro"]
NAMES = [
    "Siti Aminah",
    "budi santoso",
    "Ahmad Yani",
    "Tan Mei Ling",
    "Rudi Hartono",
    "ani",
    "Ani",
    "Zulkifli",
]

metadata = sa.MetaData()
PENDUDUK = sa.Table(
    "penduduk",
    metadata,
    sa.Column("nik", sa.String(16), primary_key=True),
    sa.Column("nama", sa.String(100)),
    sa.Column("kecamatan", sa.String(50)),
    sa.Column("tanggal_lahir", sa.Date),
    sa.Column("is_alive", sa.Boolean),
    sa.Column("tinggi", sa.Float),
    sa.Column("saldo", sa.Numeric(14, 2)),
    sa.Column("anak", sa.Integer),
)
PENERIMA = sa.Table(
    "penerima_bansos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("nik", sa.String(16)),
    sa.Column("program", sa.String(20)),
    sa.Column("nominal", sa.BigInteger),
    sa.Column("tahun", sa.Integer),
)


def make_rows(residents: int = 400, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rnd = random.Random(seed)
    people = []
    for i in range(residents):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rnd.randrange(0, 30_000))
        people.append(
            {
                "nik": f"2102{i:012d}",
                "nama": rnd.choice(NAMES),
                "kecamatan": None if i % 17 == 0 else rnd.choice(KECAMATAN),
                "tanggal_lahir": None if i % 23 == 0 else born,
                "is_alive": i % 11 != 0,
                "tinggi": round(rnd.uniform(140, 190), 1),
                "saldo": Decimal(rnd.randrange(0, 10_000_000)) / 100,
                "anak": None if i % 5 == 0 else rnd.randrange(0, 6),
            }
        )
    recipients = []
    for i in range(residents * 3 // 4):
        nik = f"9999{i:012d}" if i % 10 == 0 else people[rnd.randrange(residents)]["nik"]
        recipients.append(
            {
                "id": i + 1,
                "nik": nik,
                "program": rnd.choice(["PKH", "BPNT", "BLT-DD"]),
                "nominal": rnd.choice([300_000, 600_000, 3_000_000_000 + i]),
                "tahun": rnd.choice([2024, 2025]),
            }
        )
    return people, recipients


MODEL = Path(__file__).resolve().parents[2] / "policies" / "model.conf"
EVERYTHING = "p, user:tester, *, *, allow\n"


def write_policies(directory: Path, rules: str = EVERYTHING) -> Path:
    """The project's Casbin model with `rules` as policy.csv."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.conf").write_text(MODEL.read_text())
    (directory / "policy.csv").write_text(rules)
    return directory


def http_client(hub: Hub, key: str | None = None, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """A client of `hub`'s ASGI app, sending `key` (none: a public caller)."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    transport = httpx.ASGITransport(app=create_app(hub=hub), raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://hub", headers=headers)


async def client_for(hub: Hub, subject: str, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """A client holding a fresh key for `subject`."""
    issued = await clients.create(hub.store, subject)
    return http_client(hub, issued.key, raise_app_exceptions=raise_app_exceptions)


async def start_hub(
    tmp: Path, subject: str = "user:tester", **settings: Any
) -> tuple[Hub, httpx.AsyncClient]:
    """A hub on the catalog in `tmp/schema`, and a client holding a key for `subject`; its
    store is in `tmp` and its policies in `tmp/policies` unless `settings` say otherwise."""
    settings.setdefault("policies_dir", tmp / "policies")
    settings.setdefault("database_url", f"sqlite+aiosqlite:///{tmp / 'hub.db'}")
    if not (tmp / "policies").exists():
        write_policies(tmp / "policies")
    hub = await Hub.start(Settings(schema_dir=tmp / "schema", **settings))
    return hub, await client_for(hub, subject)


async def load(url: str, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: table.create(c))
            await conn.execute(table.insert(), rows)
    finally:
        await engine.dispose()


@dataclass
class Regency:
    kind: str
    hub: Hub
    client: httpx.AsyncClient
    people: list[dict[str, Any]]
    recipients: list[dict[str, Any]]
    databases: list[ScratchDatabase] = field(default_factory=list)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def engine(self, dataset: str) -> AsyncEngine:
        adapter = self.hub.sources.of_dataset[dataset].adapter
        engine: AsyncEngine = adapter.engine  # type: ignore[attr-defined]
        return engine

    def count_statements(self, dataset: str) -> Counter[str]:
        """Count the statements the dataset's source receives from now on."""
        counter: Counter[str] = Counter()

        def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            counter[statement.split()[0].upper()] += 1

        pg = self.hub.sources.of_dataset[dataset].adapter.pg  # type: ignore[attr-defined]
        if pg is not None:  # PostgreSQL runs on asyncpg directly (adapters.sql_pg)
            pg.listeners.append(lambda statement: before(None, None, statement))
        else:
            sa.event.listen(self.engine(dataset).sync_engine, "before_cursor_execute", before)
        return counter

    async def close(self) -> None:
        await self.client.aclose()
        await self.hub.close()
        for db in self.databases:
            await db.drop()


async def load_regency(
    tmp: Path,
    people: list[dict[str, Any]],
    recipients: list[dict[str, Any]],
    *,
    kind: str = "sqlite",
    recipients_kind: str | None = None,
    residents: Spec | None = None,
) -> list[ScratchDatabase]:
    """`people` in a scratch database on `kind`, `recipients` in one on `recipients_kind`
    (`kind` unless given), and the catalog over them in `tmp/schema`, with `residents` as
    Dukcapil's dataset (`penduduk()` unless given)."""
    a = await ScratchDatabase(kind, tmp).create()
    b = await ScratchDatabase(recipients_kind or kind, tmp).create()
    await load(a.url, PENDUDUK, people)
    await load(b.url, PENERIMA, recipients)
    write_catalog(tmp / "schema", a.url, b.url, residents=residents)
    return [a, b]


async def start_regency(kind: str, tmp: Path, residents: Spec | None = None, **settings: Any) -> Regency:
    """The regency's rows on `kind` and a hub over them (`residents`: as `load_regency`)."""
    people, recipients = make_rows()
    databases = await load_regency(tmp, people, recipients, kind=kind, residents=residents)
    hub, client = await start_hub(tmp, **settings)
    return Regency(kind, hub, client, people, recipients, databases)
