"""The audit log's chain (docs/design.md §6): one hash-chained record per release of
non-public data, in one chain however many `hub serve` processes share the store, and
`hub audit verify` finding a record edited or deleted. Also: an aggregate whose groups
are all suppressed shows no name without a record of it, and two processes migrating
a fresh store at once both start.

The shared store is a database on the PostgreSQL server at 127.0.0.1:5432 (skipped
without it, failed under HUB_REQUIRE_SERVICES=1), used by real `hub serve`, `hub migrate`
and `hub audit verify` processes. Nothing here measures cost: that is the bench's job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hub.audit.chain import Entry, fields_of
from hub.audit.log import GENESIS, AuditLog, query_hash, records, verify
from hub.store.db import migrate_async, store_engine
from tests.support.audit import (
    AUDIT_KEY,
    MATCH,
    PLACES,
    READ,
    audit_rows,
    execute,
    fill,
    gql,
    in_process_hub,
    lock_waiters,
    store_env,
)
from tests.support.databases import SERVERS, ScratchDatabase, require_server
from tests.support.hubcli import Ran, run_hub, running_hubs
from tests.support.regency import load_regency, make_rows, write_policies
from tests.support.waiting import eventually

JOIN = """query Join($id: BigInt!) {
  dinsos { penerimaBansos(where: {id: {eq: $id}}) { nodes { id nik penduduk { nama } } } }
}"""


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


# --- two processes, one store, one chain --------------------------------------------------


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


# --- an aggregate over a NIK (a bug found on the way) ------------------------------------


async def test_an_aggregate_over_a_nik_is_recorded_and_names_no_one(tmp_path: Path) -> None:
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
            assert all(g["group"]["nama"] is None for g in groups)  # a group of one says no name
            assert len(await audit_rows(store_url)) == 1, "an aggregate over a NIK left unrecorded"
            assert p["nama"] not in r.text
    finally:
        for db in databases:
            await db.drop()


# --- a fresh store ------------------------------------------------------------------------


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


# --- the disclosure method in the chain ---------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_the_disclosure_method_is_chained_and_older_records_hash_as_before(
    kind: str, tmp_path: Path
) -> None:
    """A record names the method that protected its aggregates, and the chain covers it;
    a record without one hashes without the field, as every record before it did."""
    plain = Entry(
        at=dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC), request_id="r1", subject="public", client_id=None,
        operation=None, query_hash="0" * 64, purpose=None, pairs=("dinsos.penerima_bansos.nominal:aggregate",),
        datasets=("dinsos.penerima_bansos",), rows=7, records=0, outcome="ok",
    )  # fmt: skip
    assert "disclosure" not in fields_of(plain)
    protected = replace(plain, request_id="r2", disclosure=("dinsos.penerima_bansos:cell_key",))
    db = await ScratchDatabase(kind, tmp_path).create()
    try:
        await migrate_async(db.url)
        engine = store_engine(db.url)
        log = AuditLog(engine)
        try:
            assert [await log.record(e) for e in (plain, protected, plain)] == [1, 2, 3]
            assert (await verify(engine)).ok
            assert [r.disclosure for r in [row async for row in records(engine)]] == [
                None, '["dinsos.penerima_bansos:cell_key"]', None,
            ]  # fmt: skip
            async with engine.begin() as conn:
                await conn.execute(sa.text("UPDATE audit_log SET disclosure = NULL WHERE seq = 2"))
            verdict = await verify(engine)
            assert (verdict.ok, verdict.first_bad) == (False, 2), verdict
        finally:
            await log.close()
            await engine.dispose()
    finally:
        await db.drop()
