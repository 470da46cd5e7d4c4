"""/metrics counts every answered request by route and status, on both lanes."""

from __future__ import annotations

import re

from tests.support.regency import Regency


def _count(text: str, route: str, status: str) -> float:
    m = re.search(rf'hub_requests_total{{route="{re.escape(route)}",status="{status}"}} ([0-9.e+]+)', text)
    return float(m.group(1)) if m else 0.0


async def test_requests_are_counted_by_route_and_status(sqlite_regency: Regency) -> None:
    client = sqlite_regency.client
    before = (await client.get("/metrics")).text
    for _ in range(3):
        assert (await client.post("/graphql", json={"query": "{ me { id } }"})).status_code == 200
    bad_json = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert (await client.get("/healthz")).status_code == 200
    after = (await client.get("/metrics")).text
    assert _count(after, "/graphql", "200") - _count(before, "/graphql", "200") == 3
    assert _count(after, "/graphql", "400") - _count(before, "/graphql", "400") == 1
    assert _count(after, "/healthz", "200") - _count(before, "/healthz", "200") == 1
    assert 'hub_request_seconds_count{route="/graphql"}' in after


async def test_open_data_routes_are_counted_by_kind(sqlite_regency: Regency) -> None:
    """Pages, downloads, DCAT and the CKAN API each get one label, however many paths."""
    client = sqlite_regency.client
    before = (await client.get("/metrics")).text
    asked = {
        "/public/pages": ["/public/", "/public/no/such", "/public/dukcapil/penduduk"],
        "/public/datasets": ["/public/datasets/dukcapil/penduduk.csv", "/public/datasets/x/y.json"],
        "/catalog": ["/catalog.jsonld", "/catalog.ttl"],
        "/api/action": ["/api/3/action/package_list", "/api/action/package_list"],
    }
    statuses: dict[str, list[str]] = {}
    for label, paths in asked.items():
        statuses[label] = [str((await client.get(p)).status_code) for p in paths]
    after = (await client.get("/metrics")).text
    for label, codes in statuses.items():
        for code in set(codes):
            assert _count(after, label, code) - _count(before, label, code) == codes.count(code), label
    assert 'route="/public/no/such"' not in after


def _metric(text: str, name: str, labels: str) -> float:
    m = re.search(rf"{name}{{{re.escape(labels)}}} ([0-9.e+]+)", text)
    return float(m.group(1)) if m else 0.0


async def test_source_calls_are_counted_and_timed_per_source(sqlite_regency: Regency) -> None:
    client = sqlite_regency.client
    query = "{ dukcapil { penduduk(first: 2) { nodes { kecamatan } } } }"
    before = (await client.get("/metrics")).text
    for _ in range(4):
        assert (await client.post("/graphql", json={"query": query})).status_code == 200
    after = (await client.get("/metrics")).text
    ok = 'outcome="ok",source="dukcapil.main"'
    timed = 'source="dukcapil.main"'
    assert (
        _metric(after, "hub_source_requests_total", ok) - _metric(before, "hub_source_requests_total", ok)
        == 4
    )
    assert (
        _metric(after, "hub_source_seconds_count", timed) - _metric(before, "hub_source_seconds_count", timed)
        == 4
    )
    assert _metric(after, "hub_source_breaker_open", timed) == 0


async def test_document_caches_report_what_they_hold(sqlite_regency: Regency) -> None:
    """Each schema's parsed-document caches show their entries and query text. A document
    is kept from its second request (adapters/admission.py) and counted once however often
    it comes; one asked only once is not kept; a document the public schema parsed counts
    there."""
    client = sqlite_regency.client
    labels = 'cache="documents",schema="{}"'
    before = (await client.get("/metrics")).text
    queries = [f"{{ me {{ id }} a{n}: me {{ id }} }}" for n in range(3)]
    for query in queries * 3 + ["{ me { id } once: me { id } }"]:
        assert (await client.post("/graphql", json={"query": query})).status_code == 200
    public = "{ __typename cached: __typename }"  # asked by no other test: not kept yet
    for _ in range(2):
        assert (await client.post("/public/graphql", json={"query": public})).status_code == 200
    after = (await client.get("/metrics")).text

    def grew(name: str, schema: str) -> float:
        return _metric(after, name, labels.format(schema)) - _metric(before, name, labels.format(schema))

    assert grew("hub_document_cache_entries", "main") == 3
    assert grew("hub_document_cache_chars", "main") == sum(map(len, queries))
    assert grew("hub_document_cache_entries", "public") == 1
    assert grew("hub_document_cache_chars", "public") == len(public)
    assert grew("hub_document_cache_evictions_total", "main") == 0
