"""DCAT-AP 3 (hub/http/dcat.py): /catalog.jsonld and /catalog.ttl conform to the official
DCAT-AP 3.0.0 SHACL shapes (tests/data/dcat-ap-3.0.0, validated by pyshacl) and say the
same thing; they hold exactly the datasets the public may see (nothing of the one it may
not), downloads only where it may read and each one answers; the GraphQL endpoint is a
DataService serving them; Hydra pages walk every dataset once; ETags give 304.

The shapes constrain some values with `sh:class rdfs:Resource` (accessURL, downloadURL,
endpointURL), which holds of every IRI under RDFS entailment; they are validated with
pyshacl's `inference="rdfs"`, as SEMIC's own validator runs them. A graph missing a
mandatory property is shown not to conform, so the shapes are in force.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pyshacl
import pytest
import pytest_asyncio
from rdflib import Graph, URIRef
from rdflib import namespace as ns
from rdflib.compare import isomorphic

from hub.catalog import load_catalog
from hub.http import dcat
from hub.http.open_catalog import build
from hub.policy.decisions import Policy
from tests.support.portal import HIDDEN_TITLE, Portal, start_portal

SHAPES = Graph().parse(Path(__file__).parent / "data" / "dcat-ap-3.0.0" / "dcat-ap-SHACL.ttl")
HYDRA = dcat.HYDRA
BASE = "http://hub"  # the test client's origin
OPEN = {"bpkad/ssh", "dukcapil/penduduk", "dinkes/puskesmas"}
REPO = Path(__file__).resolve().parents[1]


@pytest_asyncio.fixture(scope="module")
async def portal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Portal]:
    started = await start_portal(tmp_path_factory.mktemp("dcat"))
    yield started
    await started.close()


def conforms(graph: Graph) -> tuple[bool, str]:
    ok, _, report = pyshacl.validate(graph, shacl_graph=SHAPES, inference="rdfs")
    return bool(ok), str(report)


async def fetch(portal: Portal, path: str, **headers: str) -> Graph:
    r = await portal.client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    fmt = "turtle" if r.headers["content-type"].startswith("text/turtle") else "json-ld"
    return Graph().parse(data=r.text, format=fmt)


def datasets(g: Graph) -> set[str]:
    return {str(d).removeprefix(f"{BASE}/public/") for d in g.subjects(ns.RDF.type, ns.DCAT.Dataset)}


async def test_both_serialisations_conform_and_say_the_same(portal: Portal) -> None:
    jsonld = await fetch(portal, "/catalog.jsonld")
    turtle = await fetch(portal, "/catalog.ttl")
    for g in (jsonld, turtle):
        ok, report = conforms(g)
        assert ok, report
    assert isomorphic(jsonld, turtle)
    assert datasets(jsonld) == OPEN


async def test_a_graph_missing_a_mandatory_property_does_not_conform(portal: Portal) -> None:
    g = await fetch(portal, "/catalog.jsonld")
    g.remove((URIRef(f"{BASE}/public/bpkad/ssh"), ns.DCTERMS.title, None))
    ok, report = conforms(g)
    assert not ok and "title" in report
    g = await fetch(portal, "/catalog.jsonld")
    g.remove((URIRef(f"{BASE}/catalog"), ns.DCTERMS.publisher, None))
    assert not conforms(g)[0]


async def test_nothing_of_a_dataset_the_public_may_not_see(portal: Portal) -> None:
    for path in ("/catalog.jsonld", "/catalog.ttl"):
        body = (await portal.client.get(path)).text
        assert HIDDEN_TITLE not in body and "kematian" not in body
        assert "penyusun" not in body and "catatan" not in body  # fields it may not read


async def test_downloads_where_the_public_may_read_and_each_one_answers(portal: Portal) -> None:
    g = await fetch(portal, "/catalog.jsonld")
    for name in OPEN:
        node = URIRef(f"{BASE}/public/{name}")
        dists = set(g.objects(node, ns.DCAT.distribution))
        downloads = {str(u) for d in dists for u in g.objects(d, ns.DCAT.downloadURL)}
        if name == "dukcapil/penduduk":  # counts only: no download, its aggregate page
            assert downloads == set()
            (access,) = {str(u) for d in dists for u in g.objects(d, ns.DCAT.accessURL)}
            assert access == f"{BASE}/public/{name}/agregat"
            assert (await portal.client.get(access)).status_code == 200
            continue
        opd, ds = name.split("/")
        assert downloads == {f"{BASE}/public/datasets/{opd}/{ds}.{f}" for f in ("csv", "ndjson", "json")}
        for url in downloads:
            r = await portal.client.get(url)
            # dinkes' source is down: answered with its code before any row, never a 500
            assert r.status_code == (503 if opd == "dinkes" else 200), r.text
        licences = {str(u) for d in dists for u in g.objects(d, ns.DCTERMS.license)}
        assert licences == {"https://creativecommons.org/licenses/by/4.0/"}


async def test_the_graphql_endpoint_is_a_data_service_serving_every_dataset(portal: Portal) -> None:
    g = await fetch(portal, "/catalog.jsonld")
    service = URIRef(f"{BASE}/public/graphql")
    assert (service, ns.RDF.type, ns.DCAT.DataService) in g
    assert (URIRef(f"{BASE}/catalog"), ns.DCAT.service, service) in g
    assert set(g.objects(service, ns.DCAT.endpointURL)) == {service}
    assert {str(d) for d in g.objects(service, ns.DCAT.servesDataset)} == {f"{BASE}/public/{n}" for n in OPEN}
    r = await portal.client.post(str(service).removeprefix(BASE), json={"query": "{ __typename }"})
    assert r.json() == {"data": {"__typename": "Query"}}


async def test_publishers_and_contacts_are_the_opds(portal: Portal) -> None:
    g = await fetch(portal, "/catalog.ttl")
    ssh = URIRef(f"{BASE}/public/bpkad/ssh")
    (publisher,) = g.objects(ssh, ns.DCTERMS.publisher)
    assert str(g.value(publisher, ns.FOAF.name)) == "Badan Keuangan Daerah"
    (contact,) = g.objects(ssh, ns.DCAT.contactPoint)
    assert str(g.value(contact, dcat.VCARD.hasEmail)) == "mailto:bpkad@example.id"
    assert str(g.value(ssh, ns.DCTERMS.modified)) == "2026-11-30"
    assert {str(k) for k in g.objects(ssh, ns.DCAT.keyword)} == {"harga", "belanja"}


async def test_pages_walk_every_dataset_once(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dcat, "PAGE_SIZE", 2)
    seen: list[str] = []
    path: str | None = "/catalog.jsonld"
    pages = 0
    while path is not None:
        g = await fetch(portal, path)
        ok, report = conforms(g)
        assert ok, report
        seen += sorted(datasets(g))
        (view,) = g.subjects(ns.RDF.type, HYDRA.PartialCollectionView)
        assert str(g.value(URIRef(f"{BASE}/catalog"), HYDRA.totalItems)) == "3"
        assert str(g.value(view, HYDRA.last)) == f"{BASE}/catalog?page=2"
        following = g.value(view, HYDRA.next)
        path = str(following).removeprefix(BASE) if following is not None else None
        pages += 1
    assert pages == 2 and sorted(seen) == sorted(OPEN) and len(seen) == len(OPEN)


@pytest.mark.parametrize("page", ["0", "3", "x", "-1", "1.5", ""])
async def test_a_page_that_is_not_there_is_a_coded_400(
    portal: Portal, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    monkeypatch.setattr(dcat, "PAGE_SIZE", 2)
    r = await portal.client.get("/catalog.jsonld", params={"page": page})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_negotiation_and_caching(portal: Portal) -> None:
    turtle = await portal.client.get("/catalog", headers={"accept": "text/turtle"})
    assert turtle.headers["content-type"].startswith("text/turtle")
    jsonld = await portal.client.get("/catalog", headers={"accept": "*/*"})
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    assert turtle.headers["etag"] != jsonld.headers["etag"]
    for r in (turtle, jsonld):
        assert r.headers["cache-control"].startswith("public, max-age=")
        assert "accept" in r.headers["vary"].lower()
    again = await portal.client.get("/catalog.jsonld", headers={"if-none-match": jsonld.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    stale = await portal.client.get("/catalog.jsonld", headers={"if-none-match": '"other"'})
    assert stale.status_code == 200 and stale.content == jsonld.content


async def test_iris_follow_the_address_the_public_used(portal: Portal) -> None:
    r = await portal.client.get("https://data.example.go.id/catalog.jsonld")
    assert r.status_code == 200
    g = Graph().parse(data=r.text, format="json-ld")
    assert {str(d) for d in g.subjects(ns.RDF.type, ns.DCAT.Dataset)} == {
        f"https://data.example.go.id/public/{n}" for n in OPEN
    }


def test_the_demo_catalog_conforms() -> None:
    catalog = load_catalog(REPO / "schema")
    open_catalog = build(catalog, Policy(REPO / "policies", catalog))
    g = dcat.build_graph(
        open_catalog, "http://127.0.0.1:8000", "Data Terbuka", "Pemerintah Kabupaten Karimun"
    )
    ok, report = conforms(g)
    assert ok, report
    assert len(set(g.subjects(ns.RDF.type, ns.DCAT.Dataset))) == len(open_catalog.datasets()) == 7
