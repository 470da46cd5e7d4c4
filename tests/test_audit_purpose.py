"""Purpose binding (docs/design.md §6): a dataset with `require_purpose` releases its
non-public fields only to a request that states a purpose (`X-Hub-Purpose`), which the
audit record keeps; public fields and other datasets need none, and a purpose longer
than 200 characters or holding a line break or a tab is refused whatever the query.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.audit import audit_rows, distinct_people, fill, gql, in_process_hub, values_of
from tests.support.catalogs import penduduk
from tests.support.databases import ScratchDatabase, require_server
from tests.support.regency import load_regency, write_policies


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
