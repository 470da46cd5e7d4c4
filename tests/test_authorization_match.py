"""Match through HTTP against a real hub on SQLite (docs/design.md §5): it answers whether
given records are found, and whether each field agrees after normalisation, without
disclosing a stored value; it needs `match` on every field compared, and takes at most
1,000 records."""

from __future__ import annotations

from tests.support.authz import PEOPLE, Town, forbidden

MATCH = """query($r: [DukcapilPendudukMatchInput!]!) {
  dukcapil { pendudukMatch(records: $r) { index found nama } } }"""


async def test_match_answers_a_mixed_batch_after_normalisation(town: Town) -> None:
    two_words = [p for p in PEOPLE if " " in p["nama"]]
    same, other, unknown, bare = two_words[0], two_words[1], PEOPLE[2], PEOPLE[3]
    messy = "  " + same["nama"].upper().replace(" ", " \t  ") + " "
    records = [
        {"nik": same["nik"], "nama": messy},  # right key, right name (after trim, collapse, casefold)
        {"nik": other["nik"], "nama": "Nama Yang Lain"},  # right key, wrong name
        {"nik": "3171999999999999", "nama": unknown["nama"]},  # unknown key
        {"nik": bare["nik"]},  # right key, no name given
        {"nik": same["nik"], "nama": same["nama"] + " bin Abdullah"},  # right key, wrong name
    ]
    r = await town.clients["user:matcher"].post(
        "/graphql", json={"query": MATCH, "variables": {"r": records}}
    )
    body = r.json()
    assert "errors" not in body, body
    assert body["data"]["dukcapil"]["pendudukMatch"] == [
        {"index": 0, "found": True, "nama": True},
        {"index": 1, "found": True, "nama": False},
        {"index": 2, "found": False, "nama": None},
        {"index": 3, "found": True, "nama": None},
        {"index": 4, "found": True, "nama": False},
    ]
    assert messy.strip() != same["nama"]  # the match needed the normalisation
    for p in PEOPLE:  # no stored value comes back
        assert p["nama"] not in r.text
        assert p["nik"] not in r.text


async def test_a_matcher_can_match_but_not_read(town: Town) -> None:
    person = next(p for p in PEOPLE[10:] if " " in p["nama"])
    query = """query($nik: String!) { dukcapil { penduduk(where: {nik: {eq: $nik}}) {
        totalCount nodes { nik nama kecamatan } } } }"""
    r = await town.clients["user:matcher"].post(
        "/graphql", json={"query": query, "variables": {"nik": person["nik"]}}
    )
    body = r.json()
    page = body["data"]["dukcapil"]["penduduk"]
    assert page == {"totalCount": 1, "nodes": [{"nik": None, "nama": None, "kecamatan": None}]}
    assert sorted(forbidden(body)) == [
        ["dukcapil", "penduduk", "nodes", f] for f in ("kecamatan", "nama", "nik")
    ]
    assert person["nama"] not in r.text
    assert person["nik"] not in r.text


async def test_matching_on_a_field_without_match_permission_is_forbidden(town: Town) -> None:
    query = """query($r: [DukcapilPendudukMatchInput!]!) {
      dukcapil { pendudukMatch(records: $r) { index found tanggalLahir } } }"""
    person = next(p for p in PEOPLE if p["tanggal_lahir"])
    records = [{"nik": person["nik"], "tanggalLahir": person["tanggal_lahir"].isoformat()}]
    body = await town.post("user:matcher", query, {"r": records})
    assert body["data"] == {"dukcapil": {"pendudukMatch": None}}
    assert forbidden(body) == [["dukcapil", "pendudukMatch"]]
    # and a subject with no match on the key may not match at all
    body = await town.post("user:counter", MATCH, {"r": [{"nik": person["nik"]}]})
    assert body["data"] == {"dukcapil": {"pendudukMatch": None}}
    assert forbidden(body) == [["dukcapil", "pendudukMatch"]]


async def test_match_takes_at_most_1000_records(town: Town) -> None:
    records = [{"nik": f"3171{i:012d}"} for i in range(1001)]
    body = await town.post("user:matcher", MATCH, {"r": records[:1000]})
    assert "errors" not in body, body
    assert len(body["data"]["dukcapil"]["pendudukMatch"]) == 1000
    body = await town.post("user:matcher", MATCH, {"r": records})
    assert body["data"] == {"dukcapil": {"pendudukMatch": None}}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
