"""Transparency (docs/design.md §6): `myAccesses` lists a caller's own audited accesses
and `accessesToMyData` an OPD every access to its datasets, newest first, in pages, by
dataset and by time, never a value; `hub audit tail` prints the latest records; a
refused or mistaken transparency field nulls itself alone; and `hub audit verify` finds
an access removed from the index these lists read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.audit.log import verify
from hub.http.app import Hub
from tests.support.audit import (
    MATCH,
    PLACES,
    READ,
    audit_rows,
    execute,
    gql,
    in_process_hub,
    store_env,
    store_for,
)
from tests.support.databases import ScratchDatabase, require_server
from tests.support.disclosure import published_count
from tests.support.hubcli import run_hub
from tests.support.regency import EVERYTHING, load_regency, make_rows, write_policies

PAGE_FIELDS = """nodes { seq at subject operation purpose datasets pairs { object action } rows records outcome }
    pageInfo { hasNextPage endCursor }"""


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
    count perturbed
  } }
}"""  # groups of 2, 3, 3, 3, 4, 5, 6, 7 in make_rows(60), each count perturbed
TRANSPARENCY_RULES = (
    EVERYTHING + "p, user:other, *, *, allow\np, user:counter, dukcapil.penduduk.*, aggregate, allow\n"
)


async def page(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    r = await gql(client, query, variables)
    body = r.json()
    assert r.status_code == 200 and "errors" not in body, r.text
    result: dict[str, Any] = next(iter(body["data"].values()))
    return result


def eight_published(hub: Hub, people: list[dict[str, Any]]) -> list[int]:
    """EIGHT's counts as the cell-key method publishes them (0s are left out)."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for p in people:
        if p["kecamatan"] in ("Meral", "Karimun", "Tebing"):
            cells.setdefault(p["nama"], []).append(p)
    ds = hub.catalog.dataset("dukcapil.penduduk")
    counts = [published_count(hub.disclosure_key, ds, rows) for rows in cells.values()]
    return sorted(c for c in counts if c)


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
                    assert sorted(g["count"] for g in groups) == eight_published(hub, people)

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
            assert [(n["seq"], n["rows"]) for n in eight] == [
                (6, 33)
            ]  # every group's rows: each is published, perturbed

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


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_refused_or_mistaken_transparency_field_leaves_the_rest_of_the_answer(
    tmp_path: Path, kind: str
) -> None:
    people, recipients = make_rows(20)
    store_url, store_db = await store_for(kind, tmp_path)
    databases = await load_regency(tmp_path, people, recipients)
    write_policies(tmp_path / "policies")
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
                # a NUL, which a PostgreSQL store refuses (found by the soak's fuzzer)
                (
                    c["opd:dinsos"],
                    'accessesToMyData(dataset: "dinsos\\u0000") { nodes { seq } }',
                    "BAD_USER_INPUT",
                ),
                (c["user:tester"], 'myAccesses(dataset: "\\u0000") { nodes { seq } }', "BAD_USER_INPUT"),
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
        if store_db is not None:
            await store_db.drop()


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
