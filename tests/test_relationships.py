"""Relationships across sources: right rows, and one source query per relationship per level."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from hub import fetch
from tests.support.regency import Regency

NESTED = """{
  dinsos { penerimaBansos(first: 100, orderBy: [{id: ASC}]) {
    nodes { id nik penduduk { nik kecamatan penerimaBansos { id program } } }
  } }
}"""


def by_nik(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["nik"]].append(r)
    return out


async def test_nested_relationships_return_the_joined_rows(regency: Regency) -> None:
    data = await regency.data(NESTED)
    nodes = data["dinsos"]["penerimaBansos"]["nodes"]
    people = {p["nik"]: p for p in regency.people}
    grants = by_nik(regency.recipients)
    assert [n["id"] for n in nodes] == list(range(1, 101))
    unknown = 0
    for n in nodes:
        person = people.get(n["nik"])
        if person is None:
            unknown += 1
            assert n["penduduk"] is None
            continue
        assert n["penduduk"]["nik"] == n["nik"]
        assert n["penduduk"]["kecamatan"] == person["kecamatan"]
        # many: every grant of that person, in key order
        assert n["penduduk"]["penerimaBansos"] == [
            {"id": g["id"], "program": g["program"]} for g in sorted(grants[n["nik"]], key=lambda g: g["id"])
        ]
    assert unknown > 0  # the fixture has recipients whose NIK is not in Dukcapil


async def test_relationships_are_batched_one_query_per_level(regency: Regency) -> None:
    dukcapil = regency.count_statements("dukcapil.penduduk")
    dinsos = regency.count_statements("dinsos.penerima_bansos")
    await regency.data(NESTED)
    # dinsos: the page, then the nested penerimaBansos lookup; dukcapil: one lookup.
    assert dinsos["SELECT"] == 2, dinsos
    assert dukcapil["SELECT"] == 1, dukcapil
    assert sum(dinsos.values()) + sum(dukcapil.values()) == 3


async def test_many_relationship_from_residents(regency: Regency) -> None:
    counter = regency.count_statements("dinsos.penerima_bansos")
    data = await regency.data(
        "{ dukcapil { penduduk(first: 300) { nodes { nik penerimaBansos { id nominal tahun } } } } }"
    )
    grants = by_nik(regency.recipients)
    nodes = data["dukcapil"]["penduduk"]["nodes"]
    assert len(nodes) == 300
    for n in nodes:
        expected = sorted(grants.get(n["nik"], []), key=lambda g: g["id"])
        assert n["penerimaBansos"] == [
            {"id": g["id"], "nominal": g["nominal"], "tahun": g["tahun"]} for g in expected
        ]
    assert any(n["nominal"] > 2**31 for n in regency.recipients)  # BigInt round-trips
    assert counter["SELECT"] == 1


async def test_aliases_and_fragments_on_nodes(regency: Regency) -> None:
    data = await regency.data("""
      fragment P on DukcapilPenduduk { kec: kecamatan __typename }
      { dinsos { penerimaBansos(first: 3) {
          a: nodes { id who: penduduk { ...P } }
          edges { node { nik penduduk { nik } } }
          __typename
      } } }""")
    conn = data["dinsos"]["penerimaBansos"]
    assert conn["__typename"] == "DinsosPenerimaBansosConnection"
    people = {p["nik"]: p for p in regency.people}
    for a, e in zip(conn["a"], conn["edges"], strict=True):
        person = people.get(e["node"]["nik"])
        if person is None:
            assert a["who"] is None and e["node"]["penduduk"] is None
        else:
            assert a["who"] == {"kec": person["kecamatan"], "__typename": "DukcapilPenduduk"}
            assert e["node"]["penduduk"] == {"nik": person["nik"]}


async def test_lookups_of_more_keys_than_a_batch_give_the_same_rows(
    regency: Regency, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = await regency.data(NESTED)
    people = regency.count_statements("dukcapil.penduduk")
    grants = regency.count_statements("dinsos.penerima_bansos")
    monkeypatch.setattr(fetch, "LOOKUP_BATCH", 7)
    batched = await regency.data(NESTED)
    assert batched == whole
    nodes = whole["dinsos"]["penerimaBansos"]["nodes"]
    residents = {n["nik"] for n in nodes if n["penduduk"] is not None}
    assert people["SELECT"] == -(-len({n["nik"] for n in nodes}) // 7)  # every nik asked, 7 a batch
    assert grants["SELECT"] == 1 + -(-len(residents) // 7)  # the page, then the residents' grants
