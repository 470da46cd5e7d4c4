"""The audit log against real stores (docs/design.md §6): one hash-chained record per release of
non-public data, written before the answer, fail closed, never a value; purpose
binding; transparency; `hub audit verify|tail`.

Shared-store and outage tests run on the PostgreSQL server at 127.0.0.1:5432 (skipped
without it, failed under HUB_REQUIRE_SERVICES=1); two of them run real `hub serve`
processes. Nothing here measures cost: that is the bench's job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from hub.audit.log import GENESIS, query_hash, verify
from hub.http.app import Hub, create_app
from hub.settings import Settings
from hub.store.db import AuditRecord
from tests.support.catalogs import penduduk
from tests.support.databases import SERVERS, ScratchDatabase, require_server
from tests.support.hubcli import Ran, hub_env, run_hub, running_hubs
from tests.support.proxy import Proxy
from tests.support.regency import EVERYTHING, client_for, load_regency, make_rows, write_policies
from tests.support.servers import serve
from tests.support.waiting import eventually

AUDIT_KEY = "test-audit-key"
PUBLIC_READ = "p, *, class:public, read, allow\n"  # the public may read public fields

READ = """query Read($nik: String!) {
  dukcapil { penduduk(where: {nik: {eq: $nik}}) { nodes { nik nama } } }
}"""
MATCH = """query Check($records: [DukcapilPendudukMatchInput!]!) {
  dukcapil { pendudukMatch(records: $records) { index found nama } }
}"""
JOIN = """query Join($id: BigInt!) {
  dinsos { penerimaBansos(where: {id: {eq: $id}}) { nodes { id nik penduduk { nama } } } }
}"""
PLACES = "query Places { dukcapil { penduduk(first: 5) { nodes { kecamatan } } } }"
PAGE_FIELDS = """nodes { seq at subject operation purpose datasets pairs { object action } rows records outcome }
    pageInfo { hasNextPage endCursor }"""


# --- set-up helpers ---------------------------------------------------------------------


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


@asynccontextmanager
async def copies_of(db: ScratchDatabase, tmp: Path, count: int) -> AsyncIterator[list[ScratchDatabase]]:
    """`count` copies of a PostgreSQL scratch database (nobody may be connected to it)."""
    admin = create_async_engine(SERVERS["postgresql"][2].format(db="postgres"), isolation_level="AUTOCOMMIT")
    copies = [ScratchDatabase("postgresql", tmp) for _ in range(count)]
    made: list[ScratchDatabase] = []
    try:
        async with admin.connect() as conn:
            for copy in copies:
                await conn.execute(sa.text(f"CREATE DATABASE {copy.name} TEMPLATE {db.name}"))
                made.append(copy)
        yield copies
    finally:
        await admin.dispose()
        for copy in made:
            await copy.drop()


def store_env(store_url: str) -> dict[str, str]:
    """The environment of a `hub` command on the store at `store_url`."""
    return hub_env(HUB_DATABASE_URL=store_url, HUB_AUDIT_KEY=AUDIT_KEY, HUB_LOG_LEVEL="WARNING")


# --- 1. two processes, one store, one chain ------------------------------------------------


@dataclass(frozen=True)
class Call:
    query: str
    variables: dict[str, Any] | None
    confidential: bool  # releases non-public data when answered
    expected: dict[str, Any]  # the whole `data` of the answer


def calls(people: list[dict[str, Any]], recipients: list[dict[str, Any]], n: int) -> list[Call]:
    """Confidential reads, matches and joins, and public-only reads (1 in 4)."""
    by_nik = {p["nik"]: p for p in people}
    out = []
    for i in range(n):
        p, r = people[(7 * i) % len(people)], recipients[(5 * i) % len(recipients)]
        if i % 4 == 0:
            nodes = [{"nik": p["nik"], "nama": p["nama"]}]
            out.append(Call(READ, {"nik": p["nik"]}, True, {"dukcapil": {"penduduk": {"nodes": nodes}}}))
        elif i % 4 == 1:
            records = [{"nik": p["nik"], "nama": p["nama"]}, {"nik": p["nik"], "nama": "Nobody"}]
            answer = [{"index": 0, "found": True, "nama": True}, {"index": 1, "found": True, "nama": False}]
            out.append(Call(MATCH, {"records": records}, True, {"dukcapil": {"pendudukMatch": answer}}))
        elif i % 4 == 2:
            places = [{"kecamatan": q["kecamatan"]} for q in people[:5]]
            out.append(Call(PLACES, None, False, {"dukcapil": {"penduduk": {"nodes": places}}}))
        else:
            who = by_nik.get(r["nik"])
            node = {"id": r["id"], "nik": r["nik"], "penduduk": who and {"nama": who["nama"]}}
            out.append(Call(JOIN, {"id": r["id"]}, True, {"dinsos": {"penerimaBansos": {"nodes": [node]}}}))
    return out


async def fire(base: str, key: str, plan: list[Call]) -> list[tuple[Call, httpx.Response]]:
    """Every call of `plan` at once against one process."""
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        trust_env=False,
        limits=httpx.Limits(max_connections=len(plan)),
    ) as client:
        answers = await asyncio.gather(*(gql(client, c.query, c.variables) for c in plan))
    return list(zip(plan, answers, strict=True))


async def test_two_processes_share_one_chain_and_verify_detects_edits_and_deletions(
    tmp_path: Path,
) -> None:
    require_server("postgresql")
    people, recipients = make_rows(80)
    store = await ScratchDatabase("postgresql", tmp_path).create()
    try:
        await load_regency(tmp_path, people, recipients)
        write_policies(tmp_path / "policies")
        env = store_env(store.url)
        created = await run_hub("clients", "create", "user:tester", env=env, cwd=tmp_path)
        assert created.code == 0, created.stderr
        key = created.stdout.strip()
        found = re.search(r"id: (\w+)", created.stderr)
        assert found, created.stderr
        client_id = found.group(1)

        plan = calls(people, recipients, 60)
        command = ("serve", "--schema", str(tmp_path / "schema"), "--policies", str(tmp_path / "policies"))
        logs = [tmp_path / f"hub-serve-{i}.log" for i in range(2)]
        with running_hubs(*command, "--port", "0", cwd=tmp_path, env=env, logs=logs) as hubs:
            async with asyncio.timeout(60):
                per_process = await asyncio.gather(*(fire(hub.base, key, plan) for hub in hubs))

        answered = [(c, r) for answers in per_process for c, r in answers]
        for c, r in answered:
            assert r.status_code == 200, r.text
            assert r.json() == {"data": c.expected}, (c.query, c.variables)
        released = [(c, r) for c, r in answered if c.confidential]
        n = len(released)
        assert n == 90

        rows = await audit_rows(store.url)
        # one record per confidential answer, numbered 1..N, each linked to the one before
        assert [row.seq for row in rows] == list(range(1, n + 1))
        prev = GENESIS
        for row in rows:
            assert row.prev_hash == prev, row.seq
            prev = row.hash
        engine = create_async_engine(store.url)
        try:
            async with engine.connect() as conn:
                head = (await conn.execute(sa.text("SELECT seq, hash FROM audit_head"))).one()
        finally:
            await engine.dispose()
        assert (head.seq, head.hash) == (n, prev)
        # exactly the confidential answers' request ids, from both processes; public ones none
        by_request = {row.request_id: row for row in rows}
        assert len(by_request) == n
        assert set(by_request) == {r.headers["x-request-id"] for _, r in released}
        for answers in per_process:
            assert any(r.headers["x-request-id"] in by_request for c, r in answers if c.confidential)
        for c, r in released:
            row = by_request[r.headers["x-request-id"]]
            assert (row.subject, row.client_id, row.outcome) == ("user:tester", client_id, "ok")
            # the keyed hash of query and variables, recomputable with the shared key
            assert row.query_hash == query_hash(AUDIT_KEY.encode(), c.query, c.variables)
            if c.query == READ:
                assert (row.operation, row.rows, row.records) == ("Read", 1, 0)
                pairs = [
                    "dukcapil.penduduk.nama:read",
                    "dukcapil.penduduk.nik:match",
                    "dukcapil.penduduk.nik:read",
                ]
                assert json.loads(row.pairs) == pairs
            elif c.query == MATCH:
                assert (row.operation, row.rows, row.records) == ("Check", 0, 2)

        # `hub audit verify` on the log as written, and on three copies of it, each tampered
        # with once: one column of one record edited, a middle record deleted, the last one deleted
        k, m = n // 2, n // 3
        tamperings = {
            f"UPDATE audit_log SET rows = rows + 1 WHERE seq = {k}": f"BROKEN at record {k}: record {k} was changed",
            f"DELETE FROM audit_log WHERE seq = {m}": f"BROKEN at record {m}: record {m} is missing",
            f"DELETE FROM audit_log WHERE seq = {n}": f"BROKEN at record {n}: the log ends at record {n - 1}",
        }
        async with copies_of(store, tmp_path, len(tamperings)) as copies:
            for statement, copy in zip(tamperings, copies, strict=True):
                await execute(copy.url, statement)
            verdicts = await asyncio.gather(
                *(run_hub("audit", "verify", env=store_env(db.url), cwd=tmp_path) for db in [store, *copies])
            )
        intact, *broken = verdicts
        assert (intact.code, intact.stdout.strip()) == (0, f"audit log intact: {n} records"), intact
        for verdict, expected in zip(broken, tamperings.values(), strict=True):
            assert verdict.code == 1, verdict
            assert expected in verdict.stdout, verdict
    finally:
        await store.drop()


# --- 2. fail closed ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """The store's reachability: `down()` refuses every connection, `up()` restores it."""

    down: Callable[[], Awaitable[None]]
    up: Callable[[], Awaitable[None]]


@asynccontextmanager
async def hub_behind_proxy(
    tmp: Path, people_kind: str
) -> AsyncIterator[tuple[Hub, httpx.AsyncClient, Outage, list[dict[str, Any]], ScratchDatabase]]:
    """A hub whose PostgreSQL store is reached through a proxy that can go down; the
    residents' source on `people_kind`."""
    people, recipients = distinct_people(40)
    store = await ScratchDatabase("postgresql", tmp).create()
    databases = await load_regency(tmp, people, recipients, kind=people_kind, recipients_kind="sqlite")
    write_policies(tmp / "policies", EVERYTHING + PUBLIC_READ)
    proxy = Proxy(5432)
    await proxy.up()
    up = True

    async def down() -> None:
        nonlocal up
        await proxy.down()
        up = False

    async def back() -> None:
        nonlocal up
        await proxy.up()
        up = True

    try:
        url = store.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        async with in_process_hub(tmp, url, raise_app_exceptions=False) as (hub, callers):
            yield hub, callers["user:tester"], Outage(down, back), people, databases[0]
    finally:
        if up:
            await proxy.down()
        await store.drop()
        for db in databases:
            await db.drop()


async def test_the_store_failing_mid_request_withholds_the_data_and_service_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_server("postgresql")
    async with hub_behind_proxy(tmp_path, "postgresql") as (hub, client, store, people, residents):
        stored = values_of(people)
        served: list[str] = []  # request ids of confidential answers

        first = await gql(client, READ, {"nik": people[0]["nik"]})
        assert first.status_code == 200 and first.json()["data"]["dukcapil"]["penduduk"]["nodes"]
        served.append(first.headers["x-request-id"])

        # Authenticated while the store was up; the store goes down while the source is
        # still answering (its table locked), so the audit write is what fails.
        locker = create_async_engine(residents.url)
        try:
            async with locker.connect() as lock, locker.connect() as watch:
                await lock.execute(sa.text("LOCK TABLE penduduk IN ACCESS EXCLUSIVE MODE"))
                pending = asyncio.create_task(gql(client, READ, {"nik": people[1]["nik"]}))

                async def source_waits() -> bool:
                    return await lock_waiters(watch) >= 1

                await eventually(source_waits, 10, "the hub's source query to wait on the lock")
                await store.down()
                await lock.rollback()
        finally:
            await locker.dispose()
        refused = await asyncio.wait_for(pending, 15)
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
        assert "data" not in body
        assert not [v for v in stored if v in refused.text]
        assert any(
            r.name == "hub.audit"
            and r.levelno == logging.ERROR
            and "audit store unavailable" in r.getMessage()
            for r in caplog.records
        )

        # still down: nothing confidential comes out; public data still does
        again = await gql(client, READ, {"nik": people[2]["nik"]})
        assert again.status_code != 200
        assert not [v for v in stored if v in again.text]
        public = await gql(client, PLACES, path="/public/graphql")
        assert public.status_code == 200, public.text
        assert public.json() == {
            "data": {"dukcapil": {"penduduk": {"nodes": [{"kecamatan": p["kecamatan"]} for p in people[:5]]}}}
        }

        # the store returns: service resumes by itself, and what is written verifies
        await store.up()
        resumed: httpx.Response | None = None

        async def answers() -> bool:
            nonlocal resumed
            resumed = await gql(client, READ, {"nik": people[3]["nik"]})
            return resumed.status_code == 200

        await eventually(answers, 10, "a confidential answer after the store came back")
        assert resumed is not None
        assert resumed.json()["data"]["dukcapil"]["penduduk"]["nodes"] == [
            {"nik": people[3]["nik"], "nama": people[3]["nama"]}
        ]
        served.append(resumed.headers["x-request-id"])
        for p in people[4:7]:
            r = await gql(client, READ, {"nik": p["nik"]})
            assert r.status_code == 200
            served.append(r.headers["x-request-id"])

        verdict = await verify(hub.store)
        assert verdict.ok, verdict
        async with hub.store.connect() as conn:
            logged = (
                await conn.execute(sa.select(AuditRecord.request_id).order_by(AuditRecord.seq))
            ).scalars()
            assert list(logged) == served  # the refused requests left no record


async def test_the_store_down_before_the_request_answers_audit_unavailable(tmp_path: Path) -> None:
    require_server("postgresql")
    async with hub_behind_proxy(tmp_path, "sqlite") as (_hub, client, store, people, _residents):
        assert (await gql(client, READ, {"nik": people[0]["nik"]})).status_code == 200
        await store.down()
        r = await gql(client, READ, {"nik": people[1]["nik"]})
        assert not [v for v in values_of(people) if v in r.text]  # fails closed already...
        assert r.status_code == 503, r.text  # ...but not with a coded error
        assert r.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"


# --- 3. no values in the store or the log ---------------------------------------------------


async def value_requests(
    client: httpx.AsyncClient, people: list[dict[str, Any]]
) -> tuple[str, set[str], int]:
    """Filter by NIKs and names (variables and literals, POST and GET), match by NIK and
    name, read confidential fields, follow a relationship, count by name, fail on bad
    input and on a failing source. Returns every answer's text, the values sent, and how
    many answers released data."""
    a, b, c, d = people[1], people[2], people[3], people[4]
    sent = {a["nik"], b["nik"], c["nik"], c["nama"], d["nama"], d["nik"]}
    by_name = "query ByName($n: String) { dukcapil { penduduk(where: {nama: {eq: $n}}) { nodes { nik nama saldo } } } }"
    literal = fill(
        "{ dukcapil { penduduk(where: {nik: {in: <niks>}}) { nodes { nik nama saldo tanggalLahir } } } }",
        niks=[a["nik"], b["nik"]],
    )
    named = fill("{ dukcapil { penduduk(where: {nama: {eq: <n>}}) { nodes { nik saldo } } } }", n=d["nama"])
    match_literal = fill(
        "{ dukcapil { pendudukMatch(records: [{nik: <nik>, nama: <n>}]) { found nama } } }",
        nik=d["nik"],
        n=d["nama"],
    )
    joined = "{ dinsos { penerimaBansos(first: 20) { nodes { nik penduduk { nik nama saldo } } } } }"
    by_count = "{ dukcapil { pendudukAggregate(groupBy: [nama]) { group { nama } count } } }"
    released = [
        await gql(client, READ, {"nik": a["nik"]}),
        await gql(client, by_name, {"n": c["nama"]}),
        await gql(client, literal),
        await gql(client, named),
        await gql(
            client, MATCH, {"records": [{"nik": c["nik"], "nama": c["nama"]}, {"nik": b["nik"], "nama": "X"}]}
        ),
        await gql(client, match_literal),
        await gql(client, joined),
        await gql(client, by_count),
        await client.get("/graphql", params={"query": READ, "variables": json.dumps({"nik": b["nik"]})}),
    ]
    for r in released:
        assert r.status_code == 200 and "errors" not in r.json(), r.text
    failing = fill(
        "{ dinsos { penerimaBansos(where: {nik: {eq: <nik>}}) { nodes { program } } } }", nik=a["nik"]
    )
    others = [
        await gql(client, READ, {"nik": int(a["nik"])}),  # bad input: the value is echoed to its sender
        await gql(client, failing),  # the source fails on the statement; the hub logs why
        await gql(client, "{ myAccesses { nodes { seq pairs { object } } } }"),
    ]
    assert others[0].json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert others[1].json()["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert others[2].json()["data"]["myAccesses"]["nodes"]
    return "\n".join(r.text for r in released + others), sent, len(released)


def raw_files(directory: Path, pattern: str) -> str:
    return "".join(f.read_bytes().decode("latin-1") for f in directory.glob(pattern) if f.is_file())


async def dump_store(url: str) -> dict[str, list[str]]:
    """Every row of every table of the store, as text."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
            return {
                name: [
                    " | ".join(map(str, row))
                    for row in await conn.execute(sa.text(f'SELECT * FROM "{name}"'))
                ]
                for name in names
            }
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_the_store_and_the_hubs_log_hold_no_values(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    people, recipients = distinct_people(40)
    store_url, store_db = await store_for(kind, tmp_path)
    databases = await load_regency(tmp_path, people, recipients)
    await execute(databases[1].url, "ALTER TABLE penerima_bansos DROP COLUMN program")  # a broken source
    write_policies(tmp_path / "policies")
    uvicorn_log = logging.getLogger("uvicorn")
    try:
        async with in_process_hub(tmp_path, store_url) as (hub, callers), serve(create_app(hub=hub)) as base:
            uvicorn_log.addHandler(caplog.handler)  # uvicorn's logger does not propagate
            caplog.set_level(logging.DEBUG, logger="hub")
            caplog.set_level(logging.DEBUG, logger="uvicorn")
            headers = dict(callers["user:tester"].headers)
            async with httpx.AsyncClient(
                base_url=base, headers=headers, trust_env=False, timeout=10
            ) as client:
                answers, sent, released = await value_requests(client, people)
        log_text = "\n".join(
            f"{r.getMessage()} {r.exc_text or ''}"
            for r in caplog.records
            if r.name.split(".")[0] in ("hub", "uvicorn")
        )
    finally:
        uvicorn_log.removeHandler(caplog.handler)
        for db in databases:
            await db.drop()
    try:
        needles = sent | {v for v in values_of(people) if v in answers}
        assert len(needles) > 40  # the answers did carry names and NIKs
        tables = await dump_store(store_url)
        assert {"clients", "audit_log", "audit_access", "audit_head", "alembic_version"} <= set(tables)
        assert len(tables["audit_log"]) == released
        dump = "\n".join(line for rows in tables.values() for line in rows)
        assert not sorted(v for v in needles if v in dump)
        if kind == "sqlite":  # the raw files too, free pages and write-ahead log included
            raw = await asyncio.to_thread(raw_files, tmp_path, "hub.db*")
            assert "audit_log" in raw
            assert not sorted(v for v in needles if v in raw)
        assert "source dinsos.main failed" in log_text  # the hub did log, about a request with a NIK
        assert not sorted(v for v in needles if v in log_text)
    finally:
        if store_db is not None:
            await store_db.drop()


async def test_debug_logging_holds_no_values(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    people, recipients = distinct_people(20)
    databases = await load_regency(tmp_path, people, recipients)
    write_policies(tmp_path / "policies")
    try:
        async with in_process_hub(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}") as (_hub, callers):
            for name in ("hub", "sqlalchemy", "uvicorn", "aiosqlite"):  # aiosqlite: the SQLite driver
                caplog.set_level(logging.DEBUG, logger=name)
            r = await gql(callers["user:tester"], READ, {"nik": people[3]["nik"]})
            assert r.status_code == 200 and people[3]["nama"] in r.text
    finally:
        for db in databases:
            await db.drop()
    assert "SELECT" in caplog.text  # DEBUG logging was on
    assert people[3]["nik"] not in caplog.text
    assert people[3]["nama"] not in caplog.text


# --- 4. purpose binding --------------------------------------------------------------------


async def test_purpose_binds_non_public_fields_of_a_dataset_that_requires_it(tmp_path: Path) -> None:
    require_server("postgresql")
    people, recipients = distinct_people(30)
    store = await ScratchDatabase("postgresql", tmp_path).create()
    databases = await load_regency(tmp_path, people, recipients, residents=penduduk(require_purpose=True))
    write_policies(tmp_path / "policies")
    p = people[2]
    confidential = "{ dukcapil { penduduk(first: 3) { nodes { nik nama } } } }"
    public = "{ dukcapil { penduduk(first: 3) { nodes { kecamatan } } } }"
    matching = fill(
        '{ dukcapil { pendudukMatch(records: [{nik: <nik>, nama: "x"}]) { found } } }', nik=p["nik"]
    )
    joined = "{ dinsos { penerimaBansos(first: 2) { nodes { id penduduk { nama } } } } }"
    welfare = "query Welfare { dinsos { penerimaBansos(first: 2) { nodes { id nik } } } }"
    by_place = "{ dukcapil { pendudukAggregate(groupBy: [kecamatan]) { count } } }"
    by_name = "{ dukcapil { pendudukAggregate(groupBy: [nama]) { count } } }"
    try:
        async with in_process_hub(tmp_path, store.url) as (_hub, callers):
            client = callers["user:tester"]
            # no purpose (or a blank one): non-public fields of the dataset are withheld
            for query, field in [
                (confidential, ["dukcapil", "penduduk"]),
                (matching, ["dukcapil", "pendudukMatch"]),
                (joined, ["dinsos", "penerimaBansos"]),  # reaches penduduk.nama through a relationship
                (by_name, ["dukcapil", "pendudukAggregate"]),
            ]:
                for purpose in (None, "   "):
                    r = await gql(client, query, purpose=purpose)
                    assert r.status_code == 200, r.text
                    body = r.json()
                    assert [e["extensions"]["code"] for e in body["errors"]] == ["PURPOSE_REQUIRED"], query
                    assert body["errors"][0]["path"] == field
                    assert body["errors"][0]["extensions"]["dataset"] == "dukcapil.penduduk"
                    assert body["data"] == {field[0]: {field[1]: None}}
                    assert not [v for v in values_of(people) if v in r.text]
            # public fields of that dataset, and other datasets, need none
            r = await gql(client, public)
            assert r.json() == {
                "data": {
                    "dukcapil": {"penduduk": {"nodes": [{"kecamatan": q["kecamatan"]} for q in people[:3]]}}
                }
            }
            r = await gql(client, by_place)
            assert "errors" not in r.json() and r.json()["data"]["dukcapil"]["pendudukAggregate"]
            r = await gql(client, welfare)
            assert (
                "errors" not in r.json() and len(r.json()["data"]["dinsos"]["penerimaBansos"]["nodes"]) == 2
            )
            assert [(row.operation, row.purpose) for row in await audit_rows(store.url)] == [
                ("Welfare", None)
            ]

            # with a purpose it answers, and the record carries the purpose
            letter = "B/123/DUKCAPIL/XI/2026"
            r = await gql(client, confidential, purpose=letter)
            assert r.json() == {
                "data": {
                    "dukcapil": {
                        "penduduk": {"nodes": [{"nik": q["nik"], "nama": q["nama"]} for q in people[:3]]}
                    }
                }
            }
            longest = "P" * 200
            r = await gql(client, matching, purpose=longest)
            assert r.json() == {"data": {"dukcapil": {"pendudukMatch": [{"found": True}]}}}
            rows = await audit_rows(store.url)
            assert [row.purpose for row in rows] == [None, letter, longest]
            assert json.loads(rows[1].datasets) == ["dukcapil.penduduk"]

            # an over-long or multi-line purpose is refused, whatever the query
            for bad in ("P" * 201, "B/1/2026\nB/2/2026", "B/1/2026\r\nX-Other: 1", "B/1\t2026"):
                for query in (confidential, public):
                    r = await gql(client, query, purpose=bad)
                    assert r.status_code == 400, (bad, r.text)
                    assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["BAD_USER_INPUT"]
            assert len(await audit_rows(store.url)) == 3
    finally:
        await store.drop()
        for db in databases:
            await db.drop()


# --- 5. transparency -----------------------------------------------------------------------


def page_query(field: str) -> str:
    return f"""query Page($dataset: String, $since: DateTime, $until: DateTime, $first: Int, $after: String) {{
  {field}(dataset: $dataset, since: $since, until: $until, first: $first, after: $after) {{
    {PAGE_FIELDS}
  }}
}}"""


MINE, THEIRS = page_query("myAccesses"), page_query("accessesToMyData")
SUBJECTS = ("user:tester", "user:other", "user:counter", "opd:dukcapil", "opd:dinsos")
EIGHT = """query Eight {
  dukcapil { pendudukAggregate(where: {kecamatan: {in: ["Meral", "Karimun", "Tebing"]}}, groupBy: [nama]) {
    count suppressed
  } }
}"""  # groups of 2, 3, 3, 3, 4 (suppressed) and 5, 6, 7 (shown) in make_rows(60)
TRANSPARENCY_RULES = (
    EVERYTHING + "p, user:other, *, *, allow\np, user:counter, dukcapil.penduduk.*, aggregate, allow\n"
)


async def page(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    r = await gql(client, query, variables)
    body = r.json()
    assert r.status_code == 200 and "errors" not in body, r.text
    result: dict[str, Any] = next(iter(body["data"].values()))
    return result


def seqs(result: dict[str, Any]) -> list[int]:
    return [n["seq"] for n in result["nodes"]]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_transparency_lists_own_accesses_and_accesses_to_an_opds_data(
    tmp_path: Path, kind: str
) -> None:
    people, recipients = make_rows(60)
    store_url, store_db = await store_for(kind, tmp_path)
    databases = await load_regency(tmp_path, people, recipients)
    write_policies(tmp_path / "policies", TRANSPARENCY_RULES)
    p, q = people[0], people[1]  # 'Ahmad Yani', 'budi santoso': no tail line holds them by chance
    try:
        async with in_process_hub(tmp_path, store_url, SUBJECTS) as (hub, c):
            tester, other, counter = c["user:tester"], c["user:other"], c["user:counter"]
            steps: list[tuple[httpx.AsyncClient, str, dict[str, Any] | None]] = [
                (tester, READ, {"nik": p["nik"]}),  # 1 dukcapil
                (tester, "query Two { dinsos { penerimaBansos(first: 3) { nodes { nik } } } }", None),  # 2 dinsos
                (tester, "query Three { dinsos { penerimaBansos(first: 2) { nodes { nik penduduk { nama } } } } }", None),  # 3 both
                (other, "query Four { dukcapil { penduduk(first: 2) { nodes { nama } } } }", None),  # 4 dukcapil
                (tester, PLACES, None),  # public only: no record
                (tester, "query Six($n: String) { dukcapil { penduduk(where: {nik: {eq: $n}}) { nodes { kecamatan } } } }", {"n": q["nik"]}),  # 5: a filter on a NIK
                (counter, "{ dukcapil { pendudukAggregate(groupBy: [kecamatan]) { count } } }", None),  # public field: no record
                (counter, EIGHT, None),  # 6: an aggregate with some groups shown
                (c["opd:dinsos"], "query Nine { dinsos { penerimaBansos(first: 1) { nodes { nik } } } }", None),  # 7
                (tester, MATCH, {"records": [{"nik": q["nik"], "nama": q["nama"]}]}),  # 8 dukcapil
            ]  # fmt: skip
            for client, query, variables in steps:
                r = await gql(client, query, variables)
                assert r.status_code == 200 and "errors" not in r.json(), r.text
                if query == EIGHT:
                    groups = r.json()["data"]["dukcapil"]["pendudukAggregate"]
                    assert sorted(g["count"] or 0 for g in groups) == [0, 0, 0, 0, 0, 5, 6, 7]

            mine = await page(tester, MINE)
            assert seqs(mine) == [8, 5, 3, 2, 1]  # newest first, only the caller's own
            assert mine["pageInfo"] == {"hasNextPage": False, "endCursor": "1"}
            by_seq = {n["seq"]: n for n in mine["nodes"]}
            assert by_seq[1] | {"at": None} == {
                "seq": 1, "at": None, "subject": "user:tester", "operation": "Read", "purpose": None,
                "datasets": ["dukcapil.penduduk"], "rows": 1, "records": 0, "outcome": "ok",
                "pairs": [
                    {"object": "dukcapil.penduduk.nama", "action": "read"},
                    {"object": "dukcapil.penduduk.nik", "action": "match"},
                    {"object": "dukcapil.penduduk.nik", "action": "read"},
                ],
            }  # fmt: skip
            assert by_seq[5]["pairs"] == [
                {"object": "dukcapil.penduduk.kecamatan", "action": "read"},
                {"object": "dukcapil.penduduk.nik", "action": "match"},
            ]
            assert by_seq[8]["records"] == 1 and by_seq[8]["operation"] == "Check"
            eight = (await page(counter, MINE))["nodes"]
            assert [(n["seq"], n["rows"]) for n in eight] == [(6, 18)]  # only the groups shown

            # pages of two: first/after
            one = await page(tester, MINE, first=2)
            two = await page(tester, MINE, first=2, after=one["pageInfo"]["endCursor"])
            three = await page(tester, MINE, first=2, after=two["pageInfo"]["endCursor"])
            assert [seqs(one), seqs(two), seqs(three)] == [[8, 5], [3, 2], [1]]
            assert [x["pageInfo"]["hasNextPage"] for x in (one, two, three)] == [True, True, False]
            # by dataset; by time (since inclusive, until exclusive; any offset)
            assert seqs(await page(tester, MINE, dataset="dinsos.penerima_bansos")) == [3, 2]
            at3 = by_seq[3]["at"]
            assert seqs(await page(tester, MINE, since=at3)) == [8, 5, 3]
            assert seqs(await page(tester, MINE, until=at3)) == [2, 1]
            assert seqs(await page(tester, MINE, since=by_seq[2]["at"], until=by_seq[5]["at"])) == [3, 2]
            wib = dt.datetime.fromisoformat(at3).astimezone(dt.timezone(dt.timedelta(hours=7))).isoformat()
            assert seqs(await page(tester, MINE, since=wib)) == [8, 5, 3]
            assert seqs(await page(other, MINE)) == [4]

            # an OPD sees every access to its datasets, and only the pairs on them
            dukcapil = await page(c["opd:dukcapil"], THEIRS)
            assert seqs(dukcapil) == [8, 6, 5, 4, 3, 1]
            assert {n["subject"] for n in dukcapil["nodes"]} == {"user:tester", "user:other", "user:counter"}
            three_for_dukcapil = next(n for n in dukcapil["nodes"] if n["seq"] == 3)
            assert three_for_dukcapil["datasets"] == ["dukcapil.penduduk"]
            assert three_for_dukcapil["pairs"] == [
                {"object": "dukcapil.penduduk.nama", "action": "read"},
                {"object": "dukcapil.penduduk.nik", "action": "match"},
            ]
            dinsos = await page(c["opd:dinsos"], THEIRS)
            assert seqs(dinsos) == [7, 3, 2]
            three_for_dinsos = next(n for n in dinsos["nodes"] if n["seq"] == 3)
            assert three_for_dinsos["datasets"] == ["dinsos.penerima_bansos"]
            assert all(pair["object"].startswith("dinsos.") for n in dinsos["nodes"] for pair in n["pairs"])
            assert seqs(await page(c["opd:dinsos"], THEIRS, first=1, after="3")) == [2]
            assert seqs(await page(c["opd:dukcapil"], THEIRS, dataset="dinsos.penerima_bansos")) == []

            # a user is no OPD; a cursor must be one
            r = await gql(tester, THEIRS)
            assert r.json()["data"] == {"accessesToMyData": None}  # the refusal nulls its field alone
            assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["FORBIDDEN"]
            r = await gql(tester, MINE, {"after": "not-a-cursor"})
            assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["BAD_USER_INPUT"]

            # listing accesses is itself no release
            assert [row.seq for row in await audit_rows(store_url)] == list(range(1, 9))
            assert (await verify(hub.store)).ok

        tail = await run_hub("audit", "tail", "-n", "5", env=store_env(store_url), cwd=tmp_path)
        assert tail.code == 0, tail.stderr
        lines = tail.stdout.splitlines()
        assert [int(line.split("\t")[0]) for line in lines] == [4, 5, 6, 7, 8]
        assert lines[-1].split("\t")[2:5] == ["user:tester", "Check", "ok"]
        assert "dukcapil.penduduk.nik:match" in lines[-1] and "records=1" in lines[-1]
        assert "user:counter" in lines[2] and "dukcapil.penduduk.nama:aggregate" in lines[2]
        assert not [v for v in (p["nik"], p["nama"], q["nik"], q["nama"]) if v in tail.stdout]
    finally:
        for db in databases:
            await db.drop()
        if store_db is not None:
            await store_db.drop()


async def test_a_refused_or_mistaken_transparency_field_leaves_the_rest_of_the_answer(tmp_path: Path) -> None:
    people, recipients = make_rows(20)
    databases = await load_regency(tmp_path, people, recipients)
    write_policies(tmp_path / "policies")
    store_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    both = "{ me { id } places: dinsos { penerimaBansos(first: 2) { nodes { program } } } %s }"
    try:
        async with in_process_hub(tmp_path, store_url, ("user:tester", "opd:dinsos")) as (_hub, c):
            for client, field, code in (
                (c["user:tester"], "accessesToMyData { nodes { seq } }", "FORBIDDEN"),  # a user is no OPD
                (c["user:tester"], "myAccesses(first: null) { nodes { seq } }", "BAD_USER_INPUT"),
                (c["opd:dinsos"], "accessesToMyData(first: null) { nodes { seq } }", "BAD_USER_INPUT"),
                (
                    c["opd:dinsos"],
                    'myAccesses(after: "99999999999999999999999") { nodes { seq } }',
                    "BAD_USER_INPUT",
                ),
                (c["opd:dinsos"], 'accessesToMyData(after: "-1") { nodes { seq } }', "BAD_USER_INPUT"),
                # an offset that moves the time before year 1 in UTC (found by fuzzing)
                (
                    c["user:tester"],
                    'myAccesses(since: "0001-01-01T00:00:00+14:00") { nodes { seq } }',
                    "BAD_USER_INPUT",
                ),
                (
                    c["opd:dinsos"],
                    'accessesToMyData(until: "9999-12-31T23:59:59-14:00") { nodes { seq } }',
                    "BAD_USER_INPUT",
                ),
            ):
                r = await gql(client, both % field)
                assert r.status_code == 200, r.text
                body = r.json()
                assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
                name = field.split("(")[0].split(" ")[0]
                assert body["errors"][0]["path"] == [name]
                assert body["data"][name] is None
                assert body["data"]["me"]["id"].startswith(("user:", "opd:"))
                assert len(body["data"]["places"]["penerimaBansos"]["nodes"]) == 2
    finally:
        for db in databases:
            await db.drop()


# --- bugs found on the way -----------------------------------------------------------------


async def test_a_suppressed_aggregate_releases_no_value_unrecorded(tmp_path: Path) -> None:
    people, recipients = make_rows(30)
    databases = await load_regency(tmp_path, people, recipients)
    write_policies(tmp_path / "policies", "p, user:counter, dukcapil.penduduk.*, aggregate, allow\n")
    store_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    p = people[5]
    query = fill(
        "{ dukcapil { pendudukAggregate(where: {nik: {eq: <nik>}}, groupBy: [nama]) { group { nama } count suppressed } } }",
        nik=p["nik"],
    )
    try:
        async with in_process_hub(tmp_path, store_url, ("user:counter",)) as (_hub, callers):
            r = await gql(callers["user:counter"], query)
            assert r.status_code == 200, r.text
            groups = r.json()["data"]["dukcapil"]["pendudukAggregate"]
            assert groups and all(g["suppressed"] and g["count"] is None for g in groups)
            recorded = len(await audit_rows(store_url))
            assert p["nama"] not in r.text or recorded == 1, "a confidential value left unrecorded"
    finally:
        for db in databases:
            await db.drop()


async def test_verify_detects_an_access_removed_from_the_transparency_index(tmp_path: Path) -> None:
    require_server("postgresql")
    people, recipients = make_rows(20)
    store = await ScratchDatabase("postgresql", tmp_path).create()
    databases = await load_regency(tmp_path, people, recipients)
    write_policies(tmp_path / "policies")
    try:
        async with in_process_hub(tmp_path, store.url, ("user:tester", "opd:dukcapil")) as (hub, c):
            for p in people[:2]:
                assert (await gql(c["user:tester"], READ, {"nik": p["nik"]})).status_code == 200
            assert seqs(await page(c["opd:dukcapil"], THEIRS)) == [2, 1]
            await execute(store.url, "DELETE FROM audit_access WHERE seq = 1")
            assert seqs(await page(c["opd:dukcapil"], THEIRS)) == [2]  # the access is gone from view
            assert not (await verify(hub.store)).ok
    finally:
        await store.drop()
        for db in databases:
            await db.drop()


async def test_two_processes_starting_together_on_a_fresh_store_both_start(tmp_path: Path) -> None:
    require_server("postgresql")
    store = await ScratchDatabase("postgresql", tmp_path).create()
    env = store_env(store.url) | {"_TYPER_STANDARD_TRACEBACK": "1"}  # rich's traceback takes seconds
    engine = create_async_engine(store.url)
    migrations: list[asyncio.Task[Ran]] = []
    try:
        # Hold an uncommitted alembic_version table, so that both migrations get past their
        # "is there a version table?" check before either creates one: the race, made certain.
        async with engine.connect() as hold, engine.connect() as watch:
            await hold.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            migrations += [asyncio.create_task(run_hub("migrate", env=env, cwd=tmp_path)) for _ in range(2)]

            async def both_wait() -> bool:
                return await lock_waiters(watch) >= 2

            await eventually(both_wait, 30, "both migrations to wait")
            await hold.rollback()
        ran = await asyncio.gather(*migrations)
        assert [r.code for r in ran] == [0, 0], [r.stderr[-500:] for r in ran]
    finally:
        for task in migrations:
            task.cancel()  # kills a process still running (run_hub)
        await asyncio.gather(*migrations, return_exceptions=True)
        await engine.dispose()
        await store.drop()
