"""The open catalog as DCAT-AP 3 (https://semiceu.github.io/DCAT-AP/releases/3.0.0/), for
the portals that harvest it (CKAN with ckanext-dcat, data.europa.eu, Satu Data).

    GET /catalog.jsonld   JSON-LD (application/ld+json)
    GET /catalog.ttl      Turtle (text/turtle)
    GET /catalog          either, by the Accept header (JSON-LD unless Turtle is preferred)
    ?page=N               1-based; PAGE_SIZE datasets a page, linked by Hydra
                          (hydra:PartialCollectionView first/previous/next/last, as
                          ckanext-dcat pages)

The graph: one dcat:Catalog (`HUB_PORTAL_TITLE`, published by `HUB_PORTAL_PUBLISHER`)
with a dcat:Dataset per open dataset (hub/http/open_catalog.py: what the public may see,
nothing else), published by its OPD (foaf:Agent, vCard contact point), and the public
GraphQL endpoint as a dcat:DataService serving them all. A dataset the public may read
has a dcat:Distribution per download (CSV, NDJSON, JSON: downloadURL); one it may only
count has one Distribution whose accessURL is its aggregate page, through the service.
IRIs are absolute from `HUB_PUBLIC_URL` (else the request's origin). Answers carry an
ETag (hub/http/caching.py) and are kept per catalog version, page and origin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD
from starlette.requests import Request
from starlette.responses import Response

from hub.errors import BadUserInput
from hub.http.caching import cached
from hub.http.graphql_http import error_response, new_request_id
from hub.http.hub import Hub
from hub.http.open_catalog import OpenCatalog, OpenDataset, OpenOpd, base_url, open_catalog

PAGE_SIZE = 100
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
IANA = "http://www.iana.org/assignments/media-types/"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
ACCESS_PUBLIC = URIRef("http://publications.europa.eu/resource/authority/access-right/PUBLIC")
DOWNLOADS = {  # format -> (media type in IANA's registry or None, EU file type or None, title)
    "csv": ("text/csv", "CSV", "CSV"),
    "ndjson": (None, None, "NDJSON (JSON, satu baris per rekaman)"),
    "json": ("application/json", "JSON", "JSON"),
}
MEDIA = {"jsonld": "application/ld+json", "ttl": "text/turtle; charset=utf-8"}
CONTEXT = {
    "dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "vcard": str(VCARD),
    "hydra": str(HYDRA), "xsd": str(XSD),
}  # fmt: skip


async def catalog_jsonld(request: Request) -> Response:
    return await _serve(request, "jsonld")


async def catalog_turtle(request: Request) -> Response:
    return await _serve(request, "ttl")


async def catalog_negotiated(request: Request) -> Response:
    accept = request.headers.get("accept", "")
    turtle = "text/turtle" in accept and "application/ld+json" not in accept
    return await _serve(request, "ttl" if turtle else "jsonld")


async def _serve(request: Request, fmt: str) -> Response:
    hub: Hub = request.app.state.hub
    text = request.query_params.get("page", "1")
    catalog = open_catalog(hub)
    pages = max(1, -(-len(catalog.datasets()) // PAGE_SIZE))
    if not text.isdigit() or not 1 <= int(text) <= pages:
        refused = BadUserInput(f"page must be a whole number from 1 to {pages}")
        return error_response(refused, new_request_id())
    about = (base_url(hub, request), hub.settings.portal_title, hub.settings.portal_publisher)
    return cached(request, _document(catalog, *about, Page(int(text), PAGE_SIZE), fmt), MEDIA[fmt])


_kept: dict[tuple[Any, ...], bytes] = {}  # the documents last served, by catalog version and page
KEEP = 64  # the origin comes from the request's Host header: the cache must stay bounded


def _document(catalog: OpenCatalog, base: str, title: str, publisher: str, page: Page, fmt: str) -> bytes:
    key = (catalog.version, base, title, publisher, page, fmt)
    document = _kept.get(key)
    if document is None:
        if len(_kept) >= KEEP:
            _kept.clear()
        document = _kept[key] = _serialized(build_graph(catalog, base, title, publisher, page), fmt)
    return document


def _serialized(graph: Graph, fmt: str) -> bytes:
    if fmt == "ttl":
        return graph.serialize(format="turtle").encode()
    document = orjson.loads(graph.serialize(format="json-ld", context=CONTEXT, auto_compact=True))
    return orjson.dumps(_ordered(document), option=orjson.OPT_INDENT_2)


def _ordered(value: Any) -> Any:
    """The JSON-LD with every array sorted (they are sets: no @list is used), so that the
    same catalog gives the same bytes, and ETag, in every process."""
    if isinstance(value, dict):
        return {k: _ordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted(
            (_ordered(v) for v in value), key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
        )
    return value


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def build_graph(
    catalog: OpenCatalog, base: str, title: str, publisher: str, page: Page | None = None
) -> Graph:
    """The DCAT-AP graph of one page of the open catalog (all of it when `page` is None)."""
    g = Graph(bind_namespaces="core")
    for prefix, ns in CONTEXT.items():
        g.bind(prefix, ns)
    at = _Iris(base)
    cat = at("/catalog")
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal(title, lang="id")))
    g.add((cat, DCTERMS.description, Literal(f"{title}: data terbuka perangkat daerah (OPD)", lang="id")))
    g.add((cat, DCTERMS.publisher, _agent(g, at("/#publisher"), publisher)))
    g.add((cat, FOAF.homepage, _document_node(g, at("/public/"))))
    service = _service(g, at, title)
    g.add((cat, DCAT.service, service))
    datasets = catalog.datasets()
    page = page or Page(1, max(1, len(datasets)))
    shown = datasets[(page.number - 1) * page.size : page.number * page.size]
    opds = {opd.id: opd for opd in catalog.opds}
    modified = max((d.modified for d in datasets if d.modified), default=None)
    if modified is not None:
        g.add((cat, DCTERMS.modified, Literal(modified, datatype=XSD.date)))
    for ds in shown:
        node = _dataset(g, at, ds, opds[ds.opd], service)
        g.add((cat, DCAT.dataset, node))
        g.add((service, DCAT.servesDataset, node))
    _paging(g, cat, at, page, len(datasets))
    return g


class Page(NamedTuple):
    number: int  # from 1
    size: int


class _Iris:
    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(self, path: str) -> URIRef:
        return URIRef(self.base + path)


def _agent(g: Graph, node: URIRef, name: str) -> URIRef:
    g.add((node, RDF.type, FOAF.Agent))
    g.add((node, FOAF.name, Literal(name, lang="id")))
    return node


def _document_node(g: Graph, node: URIRef) -> URIRef:
    g.add((node, RDF.type, FOAF.Document))
    return node


def _service(g: Graph, at: Callable[[str], URIRef], title: str) -> URIRef:
    service = at("/public/graphql")
    g.add((service, RDF.type, DCAT.DataService))
    g.add((service, DCTERMS.title, Literal(f"{title}: GraphQL publik", lang="id")))
    about = "GraphQL tanpa kunci API: baca kolom terbuka, hitung per kelompok (jumlah kecil disamarkan)."
    g.add((service, DCTERMS.description, Literal(about, lang="id")))
    g.add((service, DCAT.endpointURL, service))
    g.add((service, DCAT.endpointDescription, service))  # GraphQL describes itself (introspection)
    g.add((service, DCTERMS.conformsTo, _standard(g, URIRef("https://spec.graphql.org/"))))
    return service


def _standard(g: Graph, node: URIRef) -> URIRef:
    g.add((node, RDF.type, DCTERMS.Standard))
    return node


def _dataset(g: Graph, at: Callable[[str], URIRef], ds: OpenDataset, opd: OpenOpd, service: URIRef) -> URIRef:
    node = at(ds.page_path())
    g.add((node, RDF.type, DCAT.Dataset))
    g.add((node, DCTERMS.identifier, Literal(ds.qualified)))
    g.add((node, DCTERMS.title, Literal(ds.title)))
    g.add((node, DCTERMS.description, Literal(ds.description or ds.title)))
    g.add((node, DCTERMS.publisher, _agent(g, at(f"/public/#opd-{opd.id}"), opd.name)))
    g.add((node, DCAT.landingPage, _document_node(g, node)))
    g.add((node, DCTERMS.accessRights, _rights(g)))
    if ds.modified is not None:
        g.add((node, DCTERMS.modified, Literal(ds.modified, datatype=XSD.date)))
    for word in ds.keywords:
        g.add((node, DCAT.keyword, Literal(word, lang="id")))
    if opd.contact:
        g.add((node, DCAT.contactPoint, _contact(g, at(f"/public/#contact-{opd.id}"), opd)))
    for dist in _distributions(g, at, ds, service):
        g.add((node, DCAT.distribution, dist))
    return node


def _rights(g: Graph) -> URIRef:
    g.add((ACCESS_PUBLIC, RDF.type, DCTERMS.RightsStatement))
    return ACCESS_PUBLIC


def _contact(g: Graph, node: URIRef, opd: OpenOpd) -> URIRef:
    g.add((node, RDF.type, VCARD.Kind))
    g.add((node, VCARD.fn, Literal(opd.name)))
    contact = opd.contact or ""
    if "@" in contact and " " not in contact:
        g.add((node, VCARD.hasEmail, URIRef(f"mailto:{contact}")))
    else:
        g.add((node, VCARD.note, Literal(contact)))
    return node


def _distributions(g: Graph, at: Callable[[str], URIRef], ds: OpenDataset, service: URIRef) -> list[URIRef]:
    out = []
    if not ds.downloadable:  # counts only: through the aggregate page and the service
        dist = at(ds.page_path() + "/agregat")
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal("Jumlah per kelompok (agregat)", lang="id")))
        g.add((dist, DCAT.accessURL, dist))
        g.add((dist, DCAT.accessService, service))
        out.append(dist)
    for fmt, (media, file_type, title) in DOWNLOADS.items() if ds.downloadable else ():
        dist = at(ds.download_path(fmt))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(title)))
        g.add((dist, DCAT.accessURL, dist))
        g.add((dist, DCAT.downloadURL, dist))
        if media is not None:
            g.add((dist, DCAT.mediaType, _typed(g, URIRef(IANA + media), DCTERMS.MediaType)))
        if file_type is not None:
            g.add((dist, DCTERMS.format, _typed(g, URIRef(FILE_TYPE + file_type), DCTERMS.MediaTypeOrExtent)))
        out.append(dist)
    if ds.license_url is not None:
        licence = _typed(g, URIRef(ds.license_url), DCTERMS.LicenseDocument)
        for dist in out:
            g.add((dist, DCTERMS.license, licence))
    return out


def _typed(g: Graph, node: URIRef, kind: URIRef) -> URIRef:
    g.add((node, RDF.type, kind))
    return node


def _paging(g: Graph, cat: URIRef, at: Callable[[str], URIRef], page: Page, total: int) -> None:
    last = max(1, -(-total // page.size))
    view = at(f"/catalog?page={page.number}")
    g.add((cat, HYDRA.totalItems, Literal(total, datatype=XSD.nonNegativeInteger)))
    g.add((cat, HYDRA.view, view))
    g.add((view, RDF.type, HYDRA.PartialCollectionView))
    g.add((view, HYDRA.itemsPerPage, Literal(page.size, datatype=XSD.nonNegativeInteger)))
    g.add((view, HYDRA.first, at("/catalog?page=1")))
    g.add((view, HYDRA.last, at(f"/catalog?page={last}")))
    if page.number > 1:
        g.add((view, HYDRA.previous, at(f"/catalog?page={page.number - 1}")))
    if page.number < last:
        g.add((view, HYDRA.next, at(f"/catalog?page={page.number + 1}")))
