"""No value in the audit store or the hub's log (docs/design.md §6): the records hold
keyed hashes, field names and counts, never a NIK or a name a caller sent or received,
whatever the request did (filters, matches, joins, aggregates, bad input, a failing
source) and even with DEBUG logging on. The store is checked row by row, and on SQLite
byte by byte, free pages and write-ahead log included.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hub.http.app import create_app
from tests.support.audit import (
    MATCH,
    READ,
    distinct_people,
    execute,
    fill,
    gql,
    in_process_hub,
    store_for,
    values_of,
)
from tests.support.regency import load_regency, write_policies
from tests.support.servers import serve


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
