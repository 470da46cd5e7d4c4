"""The hub's straight-line execution (hub/gql/fast.py) answers exactly as graphql-core's
executor does: the same data, the same errors with the same paths and locations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.regency import Regency

READ = "{ dukcapil { penduduk(first: 3) { nodes { nik nama kecamatan } } } }"
DOCUMENTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("read", READ, None),
    (
        "page info, count, edges, aliases and typenames",
        """query($k: String, $n: Int) { __typename a: dukcapil { __typename
            p: penduduk(where: {kecamatan: {eq: $k}}, first: $n, orderBy: [{nama: ASC}]) {
              totalCount pageInfo { hasNextPage endCursor } edges { cursor node { nik tinggi saldo anak } } } } }""",
        {"k": "Meral", "n": 4},
    ),
    (
        "two namespaces, nested relationships both ways",
        """{ dinsos { penerimaBansos(first: 5) { nodes { id nominal penduduk { nik nama
              penerimaBansos { id program } } } } }
            dukcapil { penduduk(first: 2) { nodes { nik } } } }""",
        None,
    ),
    (
        "one key twice, merged; one namespace twice",
        """{ dukcapil { penduduk(first: 2) { nodes { nik } } penduduk(first: 2) { nodes { nama } } }
            dukcapil { x: penduduk(first: 1) { totalCount } } }""",
        None,
    ),
    (
        "fragments and directives below the dataset field",
        """query($no: Boolean!) { dukcapil { penduduk(first: 2) { nodes { ...P nama @skip(if: $no) } } } }
            fragment P on DukcapilPenduduk { nik kecamatan }""",
        {"no": True},
    ),
    (
        "match and aggregate",
        """query($r: [DukcapilPendudukMatchInput!]!) { dukcapil {
              pendudukMatch(records: $r) { index found nama }
              pendudukAggregate(groupBy: [kecamatan]) { group { kecamatan } count } } }""",
        {"r": [{"nik": "2102000000000001", "nama": "x"}, {"nik": "0"}]},
    ),
    (
        "a field error beside a good field",
        """{ dukcapil { bad: penduduk(after: "not-a-cursor") { nodes { nik } }
            good: penduduk(first: 1) { nodes { nik } } } }""",
        None,
    ),
    ("first above the limit", "{ dukcapil { penduduk(first: 100000) { nodes { nik } } } }", None),
    (
        "a variable of the wrong type",
        "query($n: Int) { dukcapil { penduduk(first: $n) { totalCount } } }",
        {"n": "x"},
    ),
    (
        "a missing required variable",
        "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { found } } }",
        {},
    ),
    (
        "a record list graphql-core must word the error for",
        "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { found } } }",
        {"r": [{"nik": 1}, {"nama": "x"}]},
    ),
]


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors", []):
        error["extensions"].pop("requestId", None)
    return body


@pytest.mark.parametrize(("what", "query", "variables"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
async def test_fast_path_answers_as_graphql_core(
    sqlite_regency: Regency, what: str, query: str, variables: dict[str, Any] | None
) -> None:
    service = sqlite_regency.hub.graphql
    assert service.fast
    document = service.document(query)
    assert not isinstance(document, list), document
    takes_fast_path = service.layout(query, document, None) is not None
    assert takes_fast_path, what
    fast = _strip(await sqlite_regency.gql(query, variables))
    service.fast = False
    try:
        slow = _strip(await sqlite_regency.gql(query, variables))
    finally:
        service.fast = True
    assert fast == slow
    assert list(fast) == list(slow)  # "errors" before "data", as graphql-core's answer


@pytest.mark.parametrize(
    "query",
    [
        "{ catalog { opds { id } } }",
        "{ me { id } }",
        "{ dukcapil @include(if: true) { penduduk(first: 1) { totalCount } } }",
        "{ ...Q } fragment Q on Query { dukcapil { penduduk(first: 1) { totalCount } } }",
        "{ dukcapil { ... on DukcapilQuery { penduduk(first: 1) { totalCount } } } }",
        "query A { me { id } } query B { dukcapil { penduduk(first: 1) { totalCount } } }",
    ],
)
async def test_other_shapes_go_through_graphql_core(sqlite_regency: Regency, query: str) -> None:
    service = sqlite_regency.hub.graphql
    document = service.document(query)
    assert not isinstance(document, list), document
    name = "B" if "query B" in query else None
    assert service.layout(query, document, name) is None or name == "B"


@pytest.mark.parametrize(("no", "keys"), [(True, ["nik"]), (False, ["nik", "nama"])])
async def test_skip_and_include_below_the_dataset_field_take_effect(
    sqlite_regency: Regency, no: bool, keys: list[str]
) -> None:
    query = """query($no: Boolean!) { dukcapil { penduduk(first: 2) { nodes {
        nik nama @skip(if: $no) kecamatan @include(if: false) } } } }"""
    body = await sqlite_regency.gql(query, {"no": no})
    nodes = body["data"]["dukcapil"]["penduduk"]["nodes"]
    assert len(nodes) == 2 and [list(n) for n in nodes] == [keys, keys]
