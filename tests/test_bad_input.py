"""What a caller can get wrong, over HTTP: every mistake is a coded error with a request
id (docs/design.md §7), limits hold however the query is dressed up, nothing internal leaks,
and the server keeps answering. Also the plain routes, and the masking of a bug."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.gql import pipeline
from tests.support.regency import PENDUDUK, Regency, start_regency

REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")
PAGE = """query($where: DukcapilPendudukWhere, $orderBy: [DukcapilPendudukOrderBy!], $first: Int, $after: String) {
  dukcapil { penduduk(where: $where, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    nodes { nik }
    pageInfo { hasNextPage endCursor }
  } }
}"""


def leaks(regency: Regency) -> list[str]:
    """What must never reach a caller: internals and where the data lives."""
    return ["Traceback", "sqlalchemy", "SELECT", "aiosqlite", *(db.url for db in regency.databases),
            *(db.url.split("///")[-1] for db in regency.databases)]  # fmt: skip


def coded(regency: Regency, response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The body of an error response, checked for what every error must carry."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    for secret in leaks(regency):
        assert secret.lower() not in response.text.lower(), secret
    body: dict[str, Any] = response.json()
    assert body["errors"], body
    for error in body["errors"]:
        assert error["message"]
        assert error["extensions"]["code"] in ("BAD_USER_INPUT", "QUERY_TOO_COMPLEX", "INTERNAL")
        assert REQUEST_ID.match(error["extensions"]["requestId"])
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    return body


async def post(regency: Regency, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    return await regency.client.post("/graphql", json={"query": query, "variables": variables})


async def bad_input(regency: Regency, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """One BAD_USER_INPUT error for the dataset field alone, which is null."""
    body = coded(regency, await post(regency, query, variables))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["dukcapil", "penduduk"]
    assert body["data"] == {"dukcapil": {"penduduk": None}}
    return error


async def rejected_whole(
    regency: Regency, query: str, code: str, variables: dict[str, Any] | None = None
) -> str:
    """One error of `code` for the whole request (no data at all); its message."""
    body = coded(regency, await post(regency, query, variables))
    assert "data" not in body, body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body["errors"]
    message: str = body["errors"][0]["message"]
    return message


async def end_cursor(regency: Regency, order_by: list[dict[str, str]] | None = None) -> str:
    data = await regency.data(PAGE, {"first": 5, "orderBy": order_by})
    cursor: str = data["dukcapil"]["penduduk"]["pageInfo"]["endCursor"]
    return cursor


# --- arguments -------------------------------------------------------------------------------


async def test_an_unknown_field_in_where_is_bad_user_input(sqlite_regency: Regency) -> None:
    message = await rejected_whole(
        sqlite_regency,
        "{ dukcapil { penduduk(where: {agama: {eq: 1}}) { nodes { nik } } } }",
        "BAD_USER_INPUT",
    )
    assert "agama" in message


@pytest.mark.parametrize("first", [1001, -1, 10**9])
async def test_first_out_of_range_nulls_that_field_alone(sqlite_regency: Regency, first: int) -> None:
    query = f"""{{ dukcapil {{
      ok: penduduk(first: 2) {{ nodes {{ nik }} }}
      bad: penduduk(first: {first}) {{ nodes {{ nik }} }}
    }} }}"""
    body = coded(sqlite_regency, await post(sqlite_regency, query))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["dukcapil", "bad"]
    assert "1000" in error["message"]
    assert body["data"]["dukcapil"]["bad"] is None
    assert len(body["data"]["dukcapil"]["ok"]["nodes"]) == 2


async def test_first_at_the_limit_is_accepted(sqlite_regency: Regency) -> None:
    data = await sqlite_regency.data(PAGE, {"first": 1000})
    assert len(data["dukcapil"]["penduduk"]["nodes"]) == len(sqlite_regency.people)


@pytest.fixture
async def small_pages(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Regency]:
    r = await start_regency("sqlite", tmp_path_factory.mktemp("max-first"), max_first=50)
    yield r
    await r.close()


async def test_max_first_is_a_setting(small_pages: Regency) -> None:
    assert len((await small_pages.data(PAGE, {"first": 50}))["dukcapil"]["penduduk"]["nodes"]) == 50
    error = await bad_input(small_pages, PAGE, {"first": 51})
    assert "between 0 and 50" in error["message"]


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90IGEgY3Vyc29y", "x" * 300, "é"])
async def test_a_malformed_cursor_is_bad_user_input(sqlite_regency: Regency, cursor: str) -> None:
    error = await bad_input(sqlite_regency, PAGE, {"after": cursor})
    assert "cursor" in error["message"]


async def test_a_tampered_cursor_is_bad_user_input(sqlite_regency: Regency) -> None:
    cursor = await end_cursor(sqlite_regency)
    page = await sqlite_regency.data(PAGE, {"first": 5, "after": cursor})
    assert page["dukcapil"]["penduduk"]["nodes"]  # the real one works
    for at in (0, len(cursor) // 2, len(cursor) - 2):
        other = "A" if cursor[at] != "A" else "B"
        await bad_input(sqlite_regency, PAGE, {"after": cursor[:at] + other + cursor[at + 1 :]})


async def test_a_cursor_is_bound_to_its_order(sqlite_regency: Regency) -> None:
    by_name = [{"nama": "ASC"}]
    cursor = await end_cursor(sqlite_regency, by_name)
    assert (await sqlite_regency.data(PAGE, {"orderBy": by_name, "after": cursor}))["dukcapil"]["penduduk"]
    for other in ([{"kecamatan": "ASC"}], [{"nama": "DESC"}], None, [{"nama": "ASC"}, {"anak": "ASC"}]):
        await bad_input(sqlite_regency, PAGE, {"orderBy": other, "after": cursor})


async def test_a_cursor_is_bound_to_its_dataset(sqlite_regency: Regency) -> None:
    cursor = await end_cursor(sqlite_regency)
    body = coded(
        sqlite_regency,
        await post(
            sqlite_regency,
            "query($a: String) { dinsos { penerimaBansos(after: $a) { nodes { id } } } }",
            {"a": cursor},
        ),
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"] == {"dinsos": {"penerimaBansos": None}}


async def test_order_by_object_with_two_fields_is_bad_user_input(sqlite_regency: Regency) -> None:
    error = await bad_input(sqlite_regency, PAGE, {"orderBy": [{"nama": "ASC", "nik": "DESC"}]})
    assert "exactly one field" in error["message"]


@pytest.mark.parametrize(
    "where",
    [{"nama": {"eq": None}}, {"anak": {"in": None}}, {"or": [{"nama": {"neq": None}}]}, {"nama": None}],
    ids=["eq", "in", "inside or", "field"],
)
async def test_null_operands_are_bad_user_input(sqlite_regency: Regency, where: dict[str, Any]) -> None:
    await bad_input(sqlite_regency, PAGE, {"where": where})


async def test_a_null_literal_is_bad_user_input(sqlite_regency: Regency) -> None:
    error = await bad_input(
        sqlite_regency, "{ dukcapil { penduduk(where: {nama: {eq: null}}) { nodes { nik } } } }"
    )
    assert "isNull" in error["message"]


@pytest.mark.parametrize("value", ["not-a-date", "2024-02-30", "31/01/2024", ""])
async def test_a_date_that_is_not_a_date_is_bad_user_input(sqlite_regency: Regency, value: str) -> None:
    query = "query($d: Date) { dukcapil { penduduk(where: {tanggalLahir: {gte: $d}}) { nodes { nik } } } }"
    message = await rejected_whole(sqlite_regency, query, "BAD_USER_INPUT", {"d": value})
    assert "$d" in message


async def test_a_syntax_error_is_bad_user_input_with_its_location(sqlite_regency: Regency) -> None:
    body = coded(
        sqlite_regency, await post(sqlite_regency, "{ dukcapil {\n  penduduk(first: ) { nodes { nik } } } }")
    )
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("Syntax Error")
    assert error["locations"] == [{"line": 2, "column": 19}]


INJECTIONS: list[dict[str, Any]] = [
    {"nik": {"eq": "' OR 1=1 --"}},
    {"nama": {"eq": "' OR '1'='1"}},
    {"nama": {"in": ["' OR 1=1 --", "x'); DROP TABLE penduduk; --"]}},
    {"nama": {"like": "' OR 1=1 --"}},
    {"kecamatan": {"like": "%' OR 1=1 --%"}},
    {"nik": {"nin": ["' OR 1=1 --"]}, "nama": {"eq": '"; DELETE FROM penduduk; --'}},
]


@pytest.mark.parametrize("where", INJECTIONS, ids=[str(w) for w in INJECTIONS])
async def test_sql_in_a_filter_value_is_just_data(sqlite_regency: Regency, where: dict[str, Any]) -> None:
    page = (await sqlite_regency.data(PAGE, {"where": where}))["dukcapil"]["penduduk"]
    assert (page["nodes"], page["totalCount"]) == ([], 0)
    async with sqlite_regency.engine("dukcapil.penduduk").connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(PENDUDUK))
    assert count == len(sqlite_regency.people)


# --- limits ----------------------------------------------------------------------------------


def nested(levels: int) -> str:
    """A query `levels` relationships deep (penduduk -> penerimaBansos -> penduduk …):
    nesting depth is levels + 4 (dukcapil, penduduk, nodes, the leaf)."""
    inner = "nik"
    for i in range(levels, 0, -1):
        inner = f"{'penerimaBansos' if i % 2 else 'penduduk'} {{ {inner} }}"
    return f"{{ dukcapil {{ penduduk(first: 1) {{ nodes {{ {inner} }} }} }} }}"


async def test_nesting_up_to_the_limit_runs(sqlite_regency: Regency) -> None:
    await sqlite_regency.data(nested(11))  # depth 15


@pytest.mark.parametrize("levels", [12, 46])
async def test_nesting_beyond_the_limit_is_too_complex(sqlite_regency: Regency, levels: int) -> None:
    message = await rejected_whole(sqlite_regency, nested(levels), "QUERY_TOO_COMPLEX")
    assert f"nested {levels + 4} deep" in message


async def test_deep_introspection_is_too_complex(sqlite_regency: Regency) -> None:
    inner = "name"
    for _ in range(50):
        inner = f"ofType {{ {inner} }}"
    query = f'{{ __type(name: "Query") {{ fields {{ type {{ {inner} }} }} }} }}'
    assert "deep" in await rejected_whole(sqlite_regency, query, "QUERY_TOO_COMPLEX")


def aliases(n: int) -> str:
    return " ".join(f"a{i}: __typename" for i in range(n))


async def test_aliases_up_to_the_limit_run(sqlite_regency: Regency) -> None:
    data = await sqlite_regency.data(f"{{ {aliases(100)} }}")
    assert len(data) == 100


@pytest.mark.parametrize("n", [101, 2000])
async def test_too_many_aliases_is_too_complex(sqlite_regency: Regency, n: int) -> None:
    # 2,000 aliases also exceed 5,000 tokens; whichever limit trips, the answer is the same.
    await rejected_whole(sqlite_regency, f"{{ {aliases(n)} }}", "QUERY_TOO_COMPLEX")


async def test_fragment_spreads_multiply_their_aliases(sqlite_regency: Regency) -> None:
    query = f"fragment F on Query {{ {aliases(30)} }}\n{{ {'...F ' * 10} }}"
    message = await rejected_whole(sqlite_regency, query, "QUERY_TOO_COMPLEX")
    assert "300 aliases" in message


async def test_nested_fragments_count_their_depth(sqlite_regency: Regency) -> None:
    fragments = "".join(
        f"fragment P{i} on DukcapilPenduduk {{ penerimaBansos {{ penduduk {{ ...P{i + 1} }} }} }}\n"
        for i in range(10)
    )
    query = (
        fragments + "fragment P10 on DukcapilPenduduk { nik }\n{ dukcapil { penduduk { nodes { ...P0 } } } }"
    )
    assert "deep" in await rejected_whole(sqlite_regency, query, "QUERY_TOO_COMPLEX")


async def test_fields_up_to_the_limit_run(sqlite_regency: Regency) -> None:
    assert await sqlite_regency.data("{ " + "__typename " * 500 + "}") == {"__typename": "Query"}


@pytest.mark.parametrize("n", [501, 1000, 4900])
async def test_too_many_fields_is_too_complex_before_validation(sqlite_regency: Regency, n: int) -> None:
    # graphql-core compares fields of one name pairwise: 1,000 ran out of its budget and
    # came back as a bare "Validation aborted."; the unknown field shows validation never ran
    query = "{ nope " + "__typename " * (n - 1) + "}"
    message = await rejected_whole(sqlite_regency, query, "QUERY_TOO_COMPLEX")
    assert message == f"Query asks for {n} fields; the limit is 500."


async def test_fragment_spreads_multiply_their_fields(sqlite_regency: Regency) -> None:
    query = "fragment F on Query { " + "__typename " * 60 + "}\n{ " + "...F " * 10 + "}"
    assert "600 fields" in await rejected_whole(sqlite_regency, query, "QUERY_TOO_COMPLEX")


async def test_fragments_doubling_are_measured_once_each(sqlite_regency: Regency) -> None:
    # each fragment spreads the next twice: 2^21 fields expanded, from 22 short fragments
    # (walking every expansion took seconds, doubling with each fragment)
    k = 21
    fragments = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(k))
    query = "{ ...F0 }\n" + fragments + f"fragment F{k} on Query {{ __typename }}"
    message = await rejected_whole(sqlite_regency, query, "QUERY_TOO_COMPLEX")
    assert message == f"Query asks for {2**k} fields; the limit is 500."


async def test_fragments_nested_too_deep_to_validate_are_too_complex(sqlite_regency: Regency) -> None:
    k = 600  # under the token limit, over what validation can follow with Python's recursion limit
    fragments = "".join(f"fragment F{i} on Query{{...F{i + 1}}}" for i in range(k))
    query = "{...F0}" + fragments + f"fragment F{k} on Query{{__typename}}"
    message = await rejected_whole(sqlite_regency, query, "QUERY_TOO_COMPLEX")
    assert message.startswith("Query is too complex to validate")


async def test_too_many_tokens_is_too_complex(sqlite_regency: Regency) -> None:
    message = await rejected_whole(sqlite_regency, "{ " + "__typename " * 5001 + "}", "QUERY_TOO_COMPLEX")
    assert "5000 tokens" in message


async def big_body() -> AsyncIterator[bytes]:
    yield b'{"query": "{ __typename }", "padding": "'
    for _ in range(80):
        yield b"x" * 65_536
    yield b'"}'


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_413_and_the_server_carries_on(
    sqlite_regency: Regency, chunked: bool
) -> None:
    headers = {"content-type": "application/json"}
    if chunked:
        response = await sqlite_regency.client.post("/graphql", content=big_body(), headers=headers)
    else:
        payload = b'{"query": "{ __typename }", "padding": "' + b"x" * 5_000_000 + b'"}'
        response = await sqlite_regency.client.post("/graphql", content=payload, headers=headers)
    body = coded(sqlite_regency, response, 413)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "1000000 bytes" in body["errors"][0]["message"]
    assert await sqlite_regency.data("{ __typename }") == {"__typename": "Query"}


BAD_BODIES = {
    "invalid JSON": b'{"query": ',
    "a JSON array": b'[{"query": "{ __typename }"}]',
    "a JSON string": b'"{ __typename }"',
    "variables not an object": b'{"query": "{ __typename }", "variables": [1, 2]}',
    "variables a string": b'{"query": "{ __typename }", "variables": "{}"}',
    "missing query": b'{"variables": {}}',
    "empty query": b'{"query": "   "}',
    "query not a string": b'{"query": {"a": 1}}',
    "operationName not a string": b'{"query": "{ __typename }", "operationName": 7}',
    "not UTF-8": b'{"query": "\xff\xfe"}',
}


@pytest.mark.parametrize("payload", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
async def test_a_body_that_is_not_a_graphql_request_is_400(sqlite_regency: Regency, payload: bytes) -> None:
    response = await sqlite_regency.client.post(
        "/graphql", content=payload, headers={"content-type": "application/json"}
    )
    body = coded(sqlite_regency, response, 400)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_request_ids_differ_per_request(sqlite_regency: Regency) -> None:
    ids = set()
    for _ in range(3):
        body = coded(sqlite_regency, await post(sqlite_regency, "{ nope }"))
        ids.add(body["errors"][0]["extensions"]["requestId"])
    assert len(ids) == 3


# --- routes ----------------------------------------------------------------------------------


async def test_a_browser_gets_graphiql(sqlite_regency: Regency) -> None:
    response = await sqlite_regency.client.get(
        "/graphql", headers={"accept": "text/html,application/xhtml+xml"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_healthz_answers(sqlite_regency: Regency) -> None:
    response = await sqlite_regency.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_reports_every_source_ok(sqlite_regency: Regency) -> None:
    response = await sqlite_regency.client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {source: state["state"] for source, state in body["sources"].items()} == {
        "dukcapil.main": "ok",
        "dinsos.main": "ok",
    }


# --- a bug inside the hub is masked ------------------------------------------------------------


async def test_an_unexpected_exception_is_internal_and_logged_with_the_request_id(
    sqlite_regency: Regency, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(pipeline, "run_read", broken)  # a bug in the read path
    query = "{ dukcapil { penduduk(first: 1) { nodes { nik } } } catalog { opds { id } } }"
    with caplog.at_level(logging.ERROR):
        response = await post(sqlite_regency, query)
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text
    body = coded(sqlite_regency, response)
    (error,) = body["errors"]
    request_id = error["extensions"]["requestId"]
    assert error["extensions"]["code"] == "INTERNAL"
    assert error["message"] == f"Internal error; quote request id {request_id} to the hub's operators."
    assert error["path"] == ["dukcapil", "penduduk"]
    assert body["data"]["dukcapil"] == {"penduduk": None}
    assert {o["id"] for o in body["data"]["catalog"]["opds"]} == {"dukcapil", "dinsos"}  # the rest stands

    (record,) = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "secret detail" in caplog.text
    assert "Traceback" in caplog.text


async def test_an_exception_inside_an_adapter_is_internal_too(
    sqlite_regency: Regency, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = sqlite_regency.hub.sources.of_dataset["dinsos.penerima_bansos"].adapter

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"secret detail from {sqlite_regency.databases[1].url}")

    monkeypatch.setattr(adapter, "lookup", broken)  # relationships go through lookup
    query = "{ dukcapil { penduduk(first: 3) { nodes { nik penerimaBansos { program } } } } }"
    with caplog.at_level(logging.ERROR):
        response = await post(sqlite_regency, query)
    assert "secret detail" not in response.text
    body = coded(sqlite_regency, response)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL"]
    assert sqlite_regency.databases[1].url in caplog.text
    request_id = body["errors"][0]["extensions"]["requestId"]
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
