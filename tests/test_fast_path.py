"""The hub's straight-line execution (hub/gql/fast_path.py) answers exactly as graphql-core's
executor does: the same data, the same errors with the same paths and locations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.regency import Regency

READ = "{ dukcapil { penduduk(first: 3) { nodes { nik nama kecamatan } } } }"
PLAIN = """query($k: String!, $n: Int, $all: Boolean) { dukcapil {
    penduduk(where: {kecamatan: {eq: $k}, statusHidup: {eq: $all}}, first: $n) { totalCount nodes { nik } } } }"""
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
    # plain scalar variables: taken as they are when plainly valid (hub/gql/variables.py),
    # otherwise coerced or refused by graphql-core, in its words
    *[
        (f"plain variables {v!r}", PLAIN, v)
        for v in (
            {"k": "Meral", "n": 2, "all": True},
            {"k": "Meral", "n": None},
            {"k": "Meral"},
            {"k": "Meral", "n": 2, "extra": [1, 2]},
            {"k": None, "n": 2},
            {"n": 2},
            {"k": "Meral", "n": True},
            {"k": "Meral", "n": 2.0},
            {"k": "Meral", "n": 2**31},
            {"k": "Meral", "n": -(2**31)},
            {"k": 7, "n": 2},
            {"k": "Meral", "n": 2, "all": 1},
            None,
        )
    ],
    # BigInt variables go to graphql-core, which takes numbers and strings of digits
    *[
        (
            f"BigInt variables {v!r}",
            """query($t: BigInt, $r: [DinsosPenerimaBansosMatchInput!]!) { dinsos {
                penerimaBansos(where: {tahun: {eq: $t}}, first: 2) { totalCount nodes { id nominal } }
                penerimaBansosMatch(records: $r) { found tahun } } }""",
            v,
        )
        for v in (
            {"t": 2024, "r": [{"id": 1, "tahun": 2024}]},
            {"t": "2024", "r": [{"id": "1", "tahun": "2024"}]},
            {"t": "9223372036854775808", "r": [{"id": 1}]},
            {"t": 2024, "r": [{"id": "1.0"}]},
            {"t": " 2024", "r": [{"id": 1}]},
        )
    ],
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


# which of the PLAIN cases above are plainly valid (taken without graphql-core)
TAKEN = [True, True, True, True, False, False, False, False, False, True, False, False, False]


@pytest.mark.parametrize(
    ("variables", "taken"),
    list(zip([d[2] for d in DOCUMENTS if d[1] is PLAIN], TAKEN, strict=True)),
    ids=str,
)
async def test_plain_variables_are_taken_as_graphql_core_coerces_them(
    sqlite_regency: Regency, variables: dict[str, Any] | None, taken: bool
) -> None:
    from graphql import parse
    from graphql.execution.values import get_variable_values

    from hub.gql.variables import plain_signatures, quick_scalars

    schema = sqlite_regency.hub.graphql.schema.schema
    operation = parse(PLAIN).definitions[0]
    plain = plain_signatures(schema, operation)  # type: ignore[arg-type]
    assert plain is not None and [p[0] for p in plain] == ["k", "n", "all"]
    quick = quick_scalars(plain, variables)
    assert (quick is not None) is taken
    if quick is None:
        return  # graphql-core coerces or refuses it (compared above, through the endpoint)
    core = get_variable_values(schema, operation.variable_definitions, variables or {})  # type: ignore[attr-defined]
    assert not isinstance(core, list)
    assert quick.coerced == core.coerced
    assert {n: (str(v.signature), v.value) for n, v in quick.sources.items()} == {
        n: (str(v.signature), v.value) for n, v in core.sources.items()
    }
