"""The serving process's log (hub/logs.py, hub/access.py): a real `hub serve`, whose every
stderr line is one JSON object, with one access record per request answered, carrying the
request id its answer carries, its subject, operation, outcome and source calls; and not
one value of the data, query text, variable, query string or API key anywhere in it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.support.hubcli import Running, hub_env, run_hub, running_hub
from tests.support.regency import KECAMATAN, NAMES, load_regency, make_rows, write_policies

REPO = Path(__file__).resolve().parents[1]  # on the served hub's PYTHONPATH: this checkout's code
PEOPLE, RECIPIENTS = make_rows(residents=60)
POLICY = """\
p, opd:dinsos, dukcapil.penduduk.nik, match, allow
p, opd:dinsos, dukcapil.penduduk.nama, match, allow
p, public, dukcapil.penduduk.kecamatan, read, allow
"""
READ = "query Penerima($nik: String) { dinsos { penerimaBansos(where: {nik: {eq: $nik}}) { nodes { id nik nominal } } } }"
MATCH = "query Cek($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { index found nama } } }"
PUBLIC = '{ dukcapil { penduduk(first: 5, where: {kecamatan: {eq: "Moro"}}) { nodes { kecamatan } } } }'


@dataclass
class Served:
    hub: Running
    key: str  # opd:dinsos
    limited_key: str  # opd:dinkes, whose requests are over the key budget from the 3rd on


@pytest_asyncio.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    tmp = tmp_path_factory.mktemp("logs")
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS)
    write_policies(tmp / "policies", POLICY)
    env = hub_env(
        HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'hub.db'}", HUB_AUDIT_KEY="logs-audit",
        HUB_RATE_LIMIT_KEY="2/minute", PYTHONPATH=str(REPO),
    )  # fmt: skip
    keys = []
    for subject in ("opd:dinsos", "opd:dinkes"):
        created = await run_hub("clients", "create", subject, cwd=tmp, env=env)
        assert created.code == 0, created.stderr
        keys.append(created.stdout.strip().splitlines()[-1])
    args = ("serve", "--schema", str(tmp / "schema"), "--policies", str(tmp / "policies"), "--port", "0")
    try:
        with running_hub(*args, cwd=tmp, env=env, log=tmp / "serve.log") as hub:
            yield Served(hub, *keys)
    finally:
        for db in databases:
            await db.drop()


def records(hub: Running) -> list[dict[str, Any]]:
    """Every line the process wrote to stderr, each parsed as the JSON object it must be."""
    lines = hub.printed().splitlines()
    parsed = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(record, dict) and {"time", "level", "logger", "message"} <= record.keys(), line
        parsed.append(record)
    return parsed


def accessed(hub: Running) -> list[dict[str, Any]]:
    """The access records, health checks (polled while the hub started) left out."""
    return [r for r in records(hub) if r["logger"] == "hub.access" and r["route"] != "/healthz"]


async def test_one_json_access_record_per_request_and_never_a_value(served: Served) -> None:
    recipient = next(r for r in RECIPIENTS if not r["nik"].startswith("9999"))
    person = PEOPLE[4]
    keyed = {"Authorization": f"Bearer {served.key}"}
    base = served.hub.base
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        read = await c.post(
            "/graphql", json={"query": READ, "variables": {"nik": recipient["nik"]}}, headers=keyed
        )
        assert read.status_code == 200 and "errors" not in read.json(), read.text
        assert recipient["nik"] in read.text  # the answer holds values; the log must not
        records_ = [{"nik": person["nik"], "nama": person["nama"]}]
        match = await c.post("/graphql", json={"query": MATCH, "variables": {"r": records_}}, headers=keyed)
        assert match.json()["data"]["dukcapil"]["pendudukMatch"][0]["found"] is True, match.text
        public = await c.get("/public/graphql", params={"query": PUBLIC})  # the query in the query string
        assert public.status_code == 200 and "errors" not in public.json(), public.text
        anonymous = await c.post(
            "/graphql",
            json={
                "query": f'{{ dukcapil {{ penduduk(where: {{nik: {{eq: "{person["nik"]}"}}}}) {{ nodes {{ nama }} }} }} }}'
            },
        )
        assert anonymous.status_code == 401
        download = await c.get("/public/datasets/dukcapil/penduduk.csv", params={"kecamatan": "Meral"})
        assert download.status_code == 200 and "Meral" in download.text
        limited = [
            await c.post(
                "/graphql",
                json={"query": "{ __typename }"},
                headers={"Authorization": f"Bearer {served.limited_key}"},
            )
            for _ in range(3)
        ]
        assert [r.status_code for r in limited] == [200, 200, 429]

    found = accessed(served.hub)
    expected = [
        (read, "/graphql", "opd:dinsos", "Penerima", "ok"),
        (match, "/graphql", "opd:dinsos", "Cek", "ok"),
        (public, "/public/graphql", "public", None, "ok"),
        (anonymous, "/graphql", None, None, "UNAUTHENTICATED"),
        (download, "/public/datasets", "public", "/public/datasets", "ok"),
        (limited[0], "/graphql", "opd:dinkes", None, "ok"),
        (limited[1], "/graphql", "opd:dinkes", None, "ok"),
        (limited[2], "/graphql", None, None, "RATE_LIMITED"),
    ]
    assert len(found) == len(expected), found
    for record, (response, route, subject, operation, outcome) in zip(found, expected, strict=True):
        assert record["level"] == "INFO" and record["route"] == route, record
        assert record["status"] == response.status_code, record
        assert record["subject"] == subject and record["operation"] == operation, record
        assert record["outcome"] == outcome, record
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] > 0, record
        assert record["request_id"] == response.headers.get("x-request-id"), record
    for response in (anonymous, limited[2]):  # the id of an error is in its body too
        assert response.json()["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]
    assert found[4]["request_id"] is None  # a download runs no GraphQL request
    calls = [r["source_calls"] for r in found]
    assert calls[0] >= 1 and calls[1] >= 1 and calls[2] >= 1 and calls[4] >= 1, calls
    assert calls[3] == 0 and calls[5:] == [0, 0, 0], calls

    log = served.hub.printed()
    assert "uvicorn" not in log or '"logger":"uvicorn' in log  # uvicorn's lines are the hub's JSON too
    for row in PEOPLE + RECIPIENTS:
        assert row["nik"] not in log, row["nik"]
    for word in {*NAMES, *KECAMATAN}:  # names and kecamatan, also as a filter in a query string
        assert not re.search(rf"\b{re.escape(word)}\b", log), word
    for leak in (
        "nodes",
        "penerimaBansos",
        "pendudukMatch",
        "kecamatan=",
        "query=",
        "?",
        served.key,
        served.limited_key,
    ):
        assert leak not in log, leak


async def test_the_access_records_go_with_the_level_and_the_text_format_is_readable(tmp_path: Path) -> None:
    """Run in a fresh interpreter: HUB_LOG_LEVEL=WARNING writes no access record, and
    HUB_LOG_FORMAT=text writes `time LEVEL logger: message key=value …`."""
    program = """
import asyncio, sys
import httpx
from hub.http.app import create_app
from hub.logs import configure
from hub.settings import Settings

async def main():
    settings = Settings()
    configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c:
        await c.get("/nowhere?secret=1")

asyncio.run(main())
"""

    def run(**env: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env=hub_env(PYTHONPATH=str(REPO), HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", **env),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stderr

    text = run(HUB_LOG_FORMAT="text")
    line = next(ln for ln in text.splitlines() if " hub.access: " in ln)
    assert re.search(
        r" INFO hub\.access: GET other 404 request_id=- subject=- operation=other route=other ", line
    ), line
    assert "outcome=error source_calls=0" in line and "secret" not in text
    assert "hub.access" not in run(HUB_LOG_LEVEL="WARNING")
    assert '"logger":"hub.access"' in run()  # json by default
