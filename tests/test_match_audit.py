"""The audit counts what was compared on a caller's behalf, not only what was returned:
key-anchored probes and match records as records, a count-only question as one; every
aggregate over non-public fields is recorded with its disclosure method; a spent guess
budget marks the record `limited`, is logged for the data owner (never a value) and
counted in `hub_match_limited`; and `hub audit tail --volumes` sums it all per subject
and day."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hub.audit.log import records
from hub.demo.generate import MIN_RESIDENTS, generate
from hub.http.app import Hub, create_app
from hub.settings import Settings
from hub.store import clients
from tests.support.hubcli import hub_env, run_hub

REPO = Path(__file__).resolve().parents[1]
COUNT = "query($w: DukcapilPendudukWhere) { dukcapil { penduduk(where: $w) { totalCount } } }"
MATCH = "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { nama } } }"


class Served:
    def __init__(self, hub: Hub, keys: dict[str, str], register: list[tuple[str, str]], store: Path) -> None:
        self.hub, self.keys, self.register, self.store = hub, keys, register, store
        self.transport = httpx.ASGITransport(app=create_app(hub=hub))

    async def ask(self, subject: str, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], str]:
        async with httpx.AsyncClient(transport=self.transport, base_url="http://hub") as client:
            r = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.keys[subject]}"},
            )
        assert r.status_code == 200, r.text
        return r.json(), r.headers["x-request-id"]

    async def record(self, request_id: str) -> Any:
        found = [row async for row in records(self.hub.store) if row.request_id == request_id]
        assert len(found) == 1, f"{len(found)} audit records for {request_id}"
        return found[0]


@pytest_asyncio.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    data = tmp_path / "demo"
    generate(data, residents=MIN_RESIDENTS, progress=False)
    monkeypatch.setenv("HUB_DEMO_DIR", str(data))
    conn = sqlite3.connect(data / "dukcapil.db")
    register = conn.execute("SELECT nik, nama FROM penduduk ORDER BY nik").fetchall()
    conn.close()
    store = tmp_path / "hub.db"
    hub = await Hub.start(
        Settings(
            schema_dir=REPO / "schema", policies_dir=REPO / "policies",
            database_url=f"sqlite+aiosqlite:///{store}",
        )
    )  # fmt: skip
    keys = {s: (await clients.create(hub.store, s)).key for s in ("opd:dinsos", "opd:dukcapil", "user:rina")}
    try:
        yield Served(hub, keys, register, store)
    finally:
        await hub.close()


async def test_probes_and_match_records_count_as_records_compared(served: Served) -> None:
    niks = [nik for nik, _ in served.register[:40]]
    _, probe = await served.ask("opd:dinsos", COUNT, {"w": {"nik": {"in": niks}}})
    assert (await served.record(probe)).records == 40  # was 0: nothing was "returned"
    _, match = await served.ask("opd:dinsos", MATCH, {"r": [{"nik": n} for n in niks[:25]]})
    assert (await served.record(match)).records == 25
    # Dukcapil may read its own names: a count-only question on them is one probe
    _, own = await served.ask("opd:dukcapil", COUNT, {"w": {"nama": {"eq": served.register[0][1]}}})
    row = await served.record(own)
    assert (row.rows, row.records, row.outcome) == (0, 1, "ok")


@pytest.mark.parametrize("where", ["{nominal: {gt: 0}}", "{nominal: {lt: 0}}"], ids=["groups", "none"])
async def test_aggregates_over_non_public_fields_are_recorded_with_their_method(
    served: Served, where: str
) -> None:
    """Recorded whatever the groups published, also when no group came back at all."""
    query = f"""{{ dinsos {{ penerimaBansosAggregate(groupBy: [kecamatan, program, tahun],
        where: {where}) {{ group {{ kecamatan program tahun }} count perturbed }} }} }}"""
    body, request_id = await served.ask("user:rina", query, {})
    assert "errors" not in body, body["errors"]
    groups = body["data"]["dinsos"]["penerimaBansosAggregate"]
    assert all(g["perturbed"] for g in groups) and bool(groups) == (where == "{nominal: {gt: 0}}")
    row = await served.record(request_id)
    assert json.loads(row.disclosure) == ["dinsos.penerima_bansos:cell_key"]
    assert "dinsos.penerima_bansos.nominal:aggregate" in json.loads(row.pairs)


async def test_a_spent_budget_is_recorded_logged_and_counted_without_values(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    nik, name = served.register[7]
    guesses = [{"nik": nik, "nama": f"Guess {i}"} for i in range(5)] + [{"nik": nik, "nama": name}]
    with caplog.at_level(logging.WARNING, logger="hub.match"):
        body, request_id = await served.ask("opd:dinsos", MATCH, {"r": guesses})
    assert [a["nama"] for a in body["data"]["dukcapil"]["pendudukMatch"]] == [False] * 3 + [None] * 3
    row = await served.record(request_id)
    assert (row.records, row.outcome) == (6, "limited")
    warnings = [r.getMessage() for r in caplog.records if r.name == "hub.match"]
    assert warnings == [
        "opd:dinsos spent its guess budget on dukcapil.penduduk (nama): 3 comparison(s) withheld"
    ]
    assert nik not in caplog.text and name not in caplog.text and "Guess" not in caplog.text
    metrics = served.hub.metrics.render().decode()
    assert 'hub_match_limited_total{subject="opd:dinsos"} 3.0' in metrics
    # Dukcapil sees it among the accesses to its data
    mine = "{ accessesToMyData(first: 5) { nodes { subject records outcome } } }"
    body, _ = await served.ask("opd:dukcapil", mine, {})
    assert {"subject": "opd:dinsos", "records": 6, "outcome": "limited"} in body["data"]["accessesToMyData"][
        "nodes"
    ]


async def test_audit_tail_volumes_sums_each_subject_per_day(served: Served, tmp_path: Path) -> None:
    niks = [nik for nik, _ in served.register[:30]]
    await served.ask("opd:dinsos", MATCH, {"r": [{"nik": n} for n in niks]})
    await served.ask("opd:dinsos", COUNT, {"w": {"nik": {"in": niks[:12]}}})
    nik, _ = served.register[9]
    await served.ask("opd:dinsos", MATCH, {"r": [{"nik": nik, "nama": f"G{i}"} for i in range(4)]})
    await served.ask("opd:dukcapil", COUNT, {"w": {"nama": {"eq": "x"}}})
    env = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{served.store}")
    ran = await run_hub("audit", "tail", "--volumes", "--days", "1", env=env, cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    lines = [line.split("\t") for line in ran.stdout.strip().splitlines()]
    assert lines[0] == ["day", "subject", "requests", "rows", "records", "limited"]
    by_subject = {line[1]: line[2:] for line in lines[1:]}
    assert by_subject == {
        "opd:dinsos": ["3", "0", str(30 + 12 + 4), "1"],
        "opd:dukcapil": ["1", "0", "1", "0"],
    }
