"""The public endpoint (/public/graphql, no key) against a real hub on SQLite
(docs/design.md §5): its schema, introspection and catalog name only what the public
may use, its data queries answer, and its aggregates are perturbed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.demo.generate import MIN_RESIDENTS, generate
from hub.http.app import Hub, create_app
from hub.settings import Settings
from tests.support.authz import DUKCAPIL, PEOPLE, Town, stored_groups
from tests.support.disclosure import published_count

REPO = Path(__file__).resolve().parents[1]
INTROSPECTION = """{ __schema { queryType { name } types { name description
  fields { name description } inputFields { name description } enumValues { name description } } } }"""
CONFIDENTIAL = {"nik", "nama", "saldo"}
NOTHING_PUBLIC = {"tanggalLahir", "tinggi", "anak", "program", "nominal", "tahun", "penerimaBansos"}


def public_rules_grant_only_public_fields(town: Town) -> None:
    catalog = town.regency.hub.catalog
    for ds in catalog.datasets.values():
        for name, spec in ds.fields.items():
            if any(town.may("public", f"{ds.qualified}.{name}", a) for a in ("read", "match", "aggregate")):
                assert spec.classification == "public", name


async def test_public_introspection_names_nothing_the_public_may_not_use(town: Town) -> None:
    public_rules_grant_only_public_fields(town)
    r = await town.public.post("/public/graphql", json={"query": INTROSPECTION})
    assert r.status_code == 200, r.text
    types = r.json()["data"]["__schema"]["types"]
    names = {t["name"] for t in types}
    for t in types:
        for part in ("fields", "inputFields", "enumValues"):
            names |= {f["name"] for f in t[part] or ()}
    assert not names & CONFIDENTIAL
    assert not names & NOTHING_PUBLIC, names & NOTHING_PUBLIC
    assert {"kecamatan", "statusHidup", "pendudukAggregate", "penduduk"} <= names
    assert not [n for n in names if n.lower().startswith("dinsos")]  # nothing public: no trace
    query_type = next(t for t in types if t["name"] == "Query")
    assert {f["name"] for f in query_type["fields"]} == {"dukcapil", "catalog", "me"}
    for word in [*CONFIDENTIAL, "dinsos", "penerima_bansos", "Dinas Sosial"]:  # nor in any description
        assert not re.search(rf"\b{word}\b", r.text, re.IGNORECASE), word


async def test_public_catalog_lists_only_public_fields(town: Town) -> None:
    query = "{ me { id } catalog { opds { id datasets { id fields { name allowed } } } } }"
    body = (await town.public.post("/public/graphql", json={"query": query})).json()
    assert "errors" not in body, body
    assert body["data"]["me"] == {"id": "public"}
    opds = body["data"]["catalog"]["opds"]
    assert [(o["id"], [d["id"] for d in o["datasets"]]) for o in opds] == [("dukcapil", [DUKCAPIL])]
    assert opds[0]["datasets"][0]["fields"] == [
        {"name": "kecamatan", "allowed": ["read", "match", "aggregate", "join"]},
        {"name": "status_hidup", "allowed": ["aggregate"]},
    ]


async def test_the_catalog_and_the_schema_say_how_large_the_noise_can_be(town: Town) -> None:
    query = """{ catalog { opds { datasets { id disclosure { method maxNoise variance sumNoise text } } } }
      __type(name: "DukcapilQuery") { fields { name description } } }"""
    body = (await town.public.post("/public/graphql", json={"query": query})).json()
    assert "errors" not in body, body
    (dataset,) = body["data"]["catalog"]["opds"][0]["datasets"]
    disclosure = dataset["disclosure"]
    assert {k: disclosure[k] for k in ("method", "maxNoise", "variance", "sumNoise")} == {
        "method": "cell_key", "maxNoise": 2, "variance": 1.5, "sumNoise": 0.5,
    }  # fmt: skip
    (field,) = [f for f in body["data"]["__type"]["fields"] if f["name"] == "pendudukAggregate"]
    for words in ["at most 2 either way", "variance 1.5", "from 1 to 4", "0.25 to 0.5 times", "min and max"]:
        assert words in field["description"] and words in disclosure["text"], words


async def test_public_data_queries_work_and_aggregates_are_perturbed(town: Town) -> None:
    async def public(query: str) -> dict[str, Any]:
        r = await town.public.post("/public/graphql", json={"query": query})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    body = await public("{ dukcapil { penduduk(first: 7) { nodes { kecamatan } } } }")
    assert "errors" not in body, body
    assert body["data"]["dukcapil"]["penduduk"]["nodes"] == [
        {"kecamatan": p["kecamatan"]} for p in PEOPLE[:7]
    ]
    body = await public("""{ dukcapil { pendudukAggregate(groupBy: [kecamatan, statusHidup]) {
      group { kecamatan statusHidup } count perturbed } } }""")
    assert "errors" not in body, body
    ds, secret = town.regency.hub.catalog.dataset("dukcapil.penduduk"), town.regency.hub.disclosure_key
    published = {k: published_count(secret, ds, rows) for k, rows in stored_groups().items()}
    got = {
        (g["group"]["kecamatan"], g["group"]["statusHidup"]): g
        for g in body["data"]["dukcapil"]["pendudukAggregate"]
    }
    assert {k: (g["count"], g["perturbed"]) for k, g in got.items()} == {
        k: (n, True) for k, n in published.items() if n > 0
    }
    # what the public may not read is not in its schema at all
    body = await public("{ dukcapil { penduduk { nodes { nik } } } }")
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_the_public_schema_offers_no_min_or_max_of_a_field_it_may_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the demo the public may count residents per kecamatan but read nothing of
    Dukcapil's: its schema offers no min/max there (one record's value), and asking for
    them is a schema error. (The town's public may read the kecamatan, so the demo.)"""
    generate(tmp_path / "demo", residents=MIN_RESIDENTS, progress=False)
    monkeypatch.setenv("HUB_DEMO_DIR", str(tmp_path / "demo"))
    hub = await Hub.start(
        Settings(
            schema_dir=REPO / "schema", policies_dir=REPO / "policies",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        )
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(hub=hub)), base_url="http://h"
        ) as c:
            r = await c.post("/public/graphql", json={"query": "{ __schema { types { name } } }"})
            names = {t["name"] for t in r.json()["data"]["__schema"]["types"]}
            assert "DukcapilPendudukGroup" in names
            assert not {"DukcapilPendudukMin", "DukcapilPendudukMax"} & names
            query = "{ dukcapil { pendudukAggregate(groupBy: [kecamatan]) { count min { kecamatan } } } }"
            r = await c.post("/public/graphql", json={"query": query})
            assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["BAD_USER_INPUT"]
    finally:
        await hub.close()
