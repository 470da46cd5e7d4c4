"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/, hub/http/graphql_http.py):
graphql-http's audit of the spec runs against both endpoints of a hub on a loopback
port and must pass every audit (its counts are printed at the end of the run); the
media types and status codes are also checked one by one, without Node."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from typing import Any

import pytest

from hub.http.app import create_app
from tests.support.node import NODE_DIR, SUMMARY, require_node_package
from tests.support.regency import Regency
from tests.support.servers import serve


async def audit(node: str, url: str, authorization: str | None) -> list[dict[str, Any]]:
    env = dict(os.environ)
    if authorization:
        env["HUB_AUDIT_AUTHORIZATION"] = authorization
    proc = await asyncio.create_subprocess_exec(
        node, str(NODE_DIR / "audit.mjs"), url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    report: list[dict[str, Any]] = json.loads(out)
    return report


@pytest.mark.parametrize("path", ["/public/graphql", "/graphql"])
async def test_the_graphql_over_http_audit_passes_every_audit(sqlite_regency: Regency, path: str) -> None:
    node = require_node_package("graphql-http")
    key = sqlite_regency.client.headers["authorization"] if path == "/graphql" else None
    async with serve(create_app(hub=sqlite_regency.hub)) as base:
        report = await audit(node, base + path, key)
    counts = Counter(r["status"] for r in report)
    line = (
        f"{path}: {len(report)} audits, {counts['ok']} ok, {counts['warn']} warnings, "
        f"{counts['notice']} notices, {counts['error']} errors"
    )
    notices = [f"  notice {r['id']} {r['name']}: {r['reason']}" for r in report if r["status"] == "notice"]
    SUMMARY.extend([line, *notices])
    # every audit passes: no error (MUST), no warning (SHOULD), and no notice (MAY) either
    failed = [f"{r['status']} {r['id']} {r['name']}: {r['reason']}" for r in report if r["status"] != "ok"]
    assert not failed, "\n".join([line, *failed])
    assert len(report) >= 61  # graphql-http 1.23.1 has 61


# --- the rules one by one, through the ASGI app -------------------------------------------------

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
REQUEST_ERRORS = {
    "does not parse": ({"query": "{"}, "BAD_USER_INPUT"),
    "does not validate": ({"query": "{ nope }"}, "BAD_USER_INPUT"),
    "variables do not coerce": (
        {"query": "query($k: String!) { __typename }", "variables": {}},
        "BAD_USER_INPUT",
    ),
    "no such operation": ({"query": "query A { __typename }", "operationName": "B"}, "BAD_USER_INPUT"),
    "too deep": (
        {"query": "{ __schema { types { fields { type { " + "ofType { " * 12 + "name" + " }" * 16 + " }"},
        "QUERY_TOO_COMPLEX",
    ),
}


async def send(
    regency: Regency, body: dict[str, Any] | bytes, accept: str | None = None,
    content_type: str | None = JSON, path: str = "/graphql",
) -> Any:  # fmt: skip
    headers = {"accept": accept or "", "content-type": content_type or ""}
    if accept is None:
        del headers["accept"]
    if content_type is None:
        del headers["content-type"]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await regency.client.post(path, content=content, headers=headers)


def errors_of(response: Any) -> list[str]:
    """The codes of a response's errors, each checked for its request id."""
    body = response.json()
    for error in body["errors"]:
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    return [e["extensions"]["code"] for e in body["errors"]]


@pytest.mark.parametrize("path", ["/public/graphql", "/graphql"])
@pytest.mark.parametrize(
    ("accept", "answered"),
    [
        (None, JSON),
        ("*/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8, {JSON}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", JSON),  # equal quality: the first listed
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        (f"{JSON};q=0, */*", GRAPHQL_RESPONSE),
        ("text/html, application/*;q=0.8", JSON),
    ],
)
async def test_the_answer_takes_the_media_type_the_accept_header_prefers(
    sqlite_regency: Regency, path: str, accept: str | None, answered: str
) -> None:
    response = await send(sqlite_regency, {"query": "{ __typename }"}, accept, path=path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == answered
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", ["text/html", f"text/plain, {JSON};q=0"])
async def test_an_accept_header_allowing_no_json_is_406(sqlite_regency: Regency, accept: str) -> None:
    response = await send(sqlite_regency, {"query": "{ __typename }"}, accept)
    assert response.status_code == 406
    assert errors_of(response) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("case", list(REQUEST_ERRORS))
async def test_a_request_error_is_400_in_graphql_response_json_and_200_in_json(
    sqlite_regency: Regency, case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    modern = await send(sqlite_regency, body, GRAPHQL_RESPONSE)
    assert modern.status_code == 400
    assert modern.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert "data" not in modern.json()
    assert errors_of(modern) == [code]
    legacy = await send(sqlite_regency, body, JSON)
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == JSON
    assert legacy.json()["errors"] == [
        {**e, "extensions": {**e["extensions"], "requestId": legacy.headers["x-request-id"]}}
        for e in modern.json()["errors"]
    ]


async def test_field_errors_with_data_are_200_in_graphql_response_json(sqlite_regency: Regency) -> None:
    body = {"query": "{ dukcapil { penduduk(first: 5000) { totalCount } } catalog { opds { id } } }"}
    response = await send(sqlite_regency, body, GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.json()["data"]["dukcapil"] == {"penduduk": None}
    assert errors_of(response) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     GRAPHQL_RESPONSE, f"{JSON}; charset=latin-1"],
)  # fmt: skip
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_a_post_that_is_not_json_is_415_and_does_not_run(
    sqlite_regency: Regency, content_type: str | None, accept: str
) -> None:
    calls = sqlite_regency.count_statements("dukcapil.penduduk")
    body = {"query": "{ dukcapil { penduduk(first: 1) { nodes { nik } } } }"}
    response = await send(sqlite_regency, body, accept, content_type)
    assert response.status_code == 415
    assert response.headers["content-type"].split(";")[0] == accept
    assert errors_of(response) == ["BAD_USER_INPUT"]
    assert "Content-Type: application/json" in response.json()["errors"][0]["message"]
    assert not calls


@pytest.mark.parametrize("content_type", [JSON, f"{JSON}; charset=utf-8", 'Application/JSON;charset="UTF-8"'])
async def test_json_with_or_without_a_utf8_charset_runs(sqlite_regency: Regency, content_type: str) -> None:
    response = await send(sqlite_regency, {"query": "{ __typename }"}, None, content_type)
    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})


@pytest.mark.parametrize("extensions", ['"x"', "0", "false", "[1]"])
async def test_extensions_must_be_an_object(sqlite_regency: Regency, extensions: str) -> None:
    body = b'{"query": "{ __typename }", "extensions": ' + extensions.encode() + b"}"
    response = await send(sqlite_regency, body)
    assert response.status_code == 400
    assert errors_of(response) == ["BAD_USER_INPUT"]
    ok = await send(sqlite_regency, {"query": "{ __typename }", "extensions": {"some": "value"}})
    assert ok.json() == {"data": {"__typename": "Query"}}


async def test_get_runs_queries_but_answers_a_mutation_with_405(sqlite_regency: Regency) -> None:
    client = sqlite_regency.client
    query = "query($t: String!) { __type(name: $t) { name } }"
    got = await client.get("/graphql", params={"query": query, "variables": '{"t": "Query"}'})
    assert (got.status_code, got.json()) == (200, {"data": {"__type": {"name": "Query"}}})
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await client.get(
            "/graphql", params={"query": "mutation M { __typename }"}, headers={"accept": accept}
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert errors_of(response) == ["BAD_USER_INPUT"]
