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
