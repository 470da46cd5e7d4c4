"""The open-data pages: server-rendered HTML (Jinja2, hub/http/templates) of what the
public may see, in Indonesian, readable on a phone, with no script and nothing loaded
from elsewhere (the stylesheet is /static/portal.css).

    GET /                                 -> /public/ (307)
    GET /public/                          the OPDs and their open datasets
    GET /public/{opd}                     one OPD's (any other path under /public/: a 404 page)
    GET /public/{opd}/{dataset}           fields, a preview paged by keyset links
                                          (?after=<cursor>), downloads, an example query
    GET /public/{opd}/{dataset}/agregat   counts by the fields chosen (?by=a&by=b), as a
                                          table and an SVG bar chart

Rows and counts come from the public GraphQL API itself (hub/http/answer.py): a page
shows exactly what /public/graphql would answer, with the same policy, the same
disclosure rules (perturbed or suppressed counts) and the same audit record. Pages carry
an ETag and Cache-Control (hub/http/caching.py).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub import access
from hub.errors import HubError
from hub.http.answer import answer, recorded
from hub.http.caching import cached
from hub.http.chart import bar_chart
from hub.http.graphql_http import new_request_id
from hub.http.hub import PUBLIC, Hub
from hub.http.open_catalog import DOWNLOADS, OpenDataset, open_catalog
from hub.store.clients import Caller

HTML = "text/html; charset=utf-8"
PREVIEW_ROWS = 20
CHART_BARS = 60  # the table holds every group; the chart the first ones
MAX_GROUP_BY = 3
CSS = Path(__file__).with_name("static") / "portal.css"
# no script at all, styles from the hub only, forms post back to it, never framed
CSP = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
STATUS = {"BAD_USER_INPUT": 400, "SOURCE_UNAVAILABLE": 503, "SOURCE_TIMEOUT": 504, "AUDIT_UNAVAILABLE": 503}
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("hub.http", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageFailed(Exception):
    """An error page: its HTTP status, message and the API's error code (shown on it)."""

    def __init__(self, status: int, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


async def home(_request: Request) -> Response:
    return RedirectResponse("/public/", status_code=307)


async def catalog_page(request: Request) -> Response:
    catalog = open_catalog(request.app.state.hub)
    return _page(request, "catalog.html", opds=catalog.opds, count=len(catalog.datasets()))


async def opd_page(request: Request) -> Response:
    """One OPD's open datasets; an OPD with none is not found, as one that does not exist."""
    opd = open_catalog(request.app.state.hub).opd(request.path_params["opd"])
    if opd is None:
        return _failed(
            request, PageFailed(404, f"Tidak ada OPD dengan data terbuka {request.path_params['opd']}")
        )
    return _page(request, "catalog.html", opds=(opd,), count=len(opd.datasets))


async def no_page(request: Request) -> Response:
    return _failed(request, PageFailed(404, "Halaman ini tidak ada"))


async def dataset_page(request: Request) -> Response:
    try:
        ds = _dataset(request)
        after = request.query_params.get("after")
        preview = await _preview(request.app.state.hub, ds, after) if ds.downloadable else None
    except PageFailed as e:
        return _failed(request, e)
    return _page(
        request, "dataset.html", ds=ds, preview=preview, first_page=after is not None,
        example=example_query(ds), downloads=DOWNLOADS,
    )  # fmt: skip


async def aggregate_page(request: Request) -> Response:
    try:
        ds = _dataset(request)
        if not ds.groupable:
            raise PageFailed(404, f"{ds.title}: publik tidak dapat menghitung dataset ini")
        by = _group_by(ds, request.query_params.getlist("by"))
        groups = await _groups(request.app.state.hub, ds, by)
    except PageFailed as e:
        return _failed(request, e)
    labels = {f.name: f.graphql for f in ds.fields}
    # (keys, count, perturbed, suppressed): a suppressed group's count is null, and it has no bar
    rows = [
        ([g["group"][labels[f]] for f in by], g["count"], g["perturbed"], g["suppressed"]) for g in groups
    ]
    counted = [(keys, count) for keys, count, _, suppressed in rows if not suppressed]
    bars = [(" / ".join(_shown(v) for v in keys) or "Semua", count) for keys, count in counted[:CHART_BARS]]
    chart = bar_chart(bars, f"{ds.title}: jumlah per {', '.join(by) or 'semua'}") if bars else None
    return _page(
        request, "aggregate.html", ds=ds, by=by, rows=rows, chart=chart, chart_bars=CHART_BARS,
        charted=len(counted), perturbed=any(r[2] for r in rows), suppressed=any(r[3] for r in rows),
        max_group_by=MAX_GROUP_BY,
    )  # fmt: skip


async def portal_css(request: Request) -> Response:
    return cached(request, _css(), "text/css; charset=utf-8", max_age=3600)


@functools.cache
def _css() -> bytes:
    return CSS.read_bytes()


def _dataset(request: Request) -> OpenDataset:
    opd, name = request.path_params["opd"], request.path_params["dataset"]
    ds = open_catalog(request.app.state.hub).dataset(opd, name)
    if ds is None:  # one the public sees nothing of is not found, as one that does not exist
        raise PageFailed(404, f"Tidak ada dataset terbuka {opd}.{name}")
    return ds


def _group_by(ds: OpenDataset, given: list[str]) -> list[str]:
    asked = list(dict.fromkeys(given))  # a field ticked twice is one field
    unknown = [f for f in asked if f not in ds.groupable]
    if unknown:
        raise PageFailed(400, f"Tidak dapat mengelompokkan menurut {', '.join(unknown)}")
    if len(asked) > MAX_GROUP_BY:
        raise PageFailed(400, f"Pilih paling banyak {MAX_GROUP_BY} kolom pengelompokan")
    return asked


async def _preview(hub: Hub, ds: OpenDataset, after: str | None) -> dict[str, Any]:
    fields = [f.graphql for f in ds.fields if f.read]
    query = (
        f"query($first: Int!, $after: String) {{ {ds.opd} {{ {ds.graphql}(first: $first, after: $after) "
        f"{{ nodes {{ {' '.join(fields)} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
    )
    data = await _ask(hub, query, {"first": PREVIEW_ROWS, "after": after})
    page = data[ds.opd][ds.graphql]
    return {
        "fields": [f for f in ds.fields if f.read],
        "rows": [[node[f] for f in fields] for node in page["nodes"]],
        "next": page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None,
    }


async def _groups(hub: Hub, ds: OpenDataset, by: list[str]) -> list[dict[str, Any]]:
    names = {f.name: f.graphql for f in ds.fields}
    keys = " ".join(names[f] for f in by)
    group_by = f"groupBy: [{', '.join(names[f] for f in by)}]"
    selection = f"group {{ {keys} }} count perturbed suppressed" if by else "count perturbed suppressed"
    query = f"{{ {ds.opd} {{ {ds.graphql}Aggregate({group_by}) {{ {selection} }} }} }}"
    data = await _ask(hub, query, None)
    groups: list[dict[str, Any]] = data[ds.opd][f"{ds.graphql}Aggregate"]
    if not by:
        return [{**g, "group": {}} for g in groups]
    return groups


async def _ask(hub: Hub, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    """The data of a public query, with its audit record written first when it needs one."""
    answered = await answer(
        hub, hub.public_graphql(), Caller(PUBLIC, None), new_request_id(), None, query, variables, None
    )
    if isinstance(answered, HubError):
        raise PageFailed(STATUS.get(answered.code, 400), answered.message, answered.code)
    result, entry = answered
    refused = await recorded(hub, entry) if entry is not None else None
    if refused is not None:
        raise PageFailed(503, refused.message, refused.code)
    for error in result.get("errors", ()):
        code = error.get("extensions", {}).get("code", "INTERNAL")
        raise PageFailed(STATUS.get(code, 500 if code == "INTERNAL" else 400), error["message"], code)
    data: dict[str, Any] = result["data"]
    return data


def example_query(ds: OpenDataset) -> str:
    """The GraphQL a programmer would send for this dataset on /public/graphql."""
    if ds.downloadable:
        fields = "\n        ".join(f.graphql for f in ds.fields if f.read)
        return (
            f"{{\n  {ds.opd} {{\n    {ds.graphql}(first: 10) {{\n      nodes {{\n        {fields}\n      }}\n"
            "      pageInfo { hasNextPage endCursor }\n    }\n  }\n}"
        )
    keys = " ".join(f.graphql for f in ds.fields if f.aggregate)
    return (
        f"{{\n  {ds.opd} {{\n    {ds.graphql}Aggregate(groupBy: [{keys.replace(' ', ', ')}]) {{\n"
        f"      group {{ {keys} }}\n      count\n      perturbed\n    }}\n  }}\n}}"
    )


def _shown(value: Any) -> str:
    """A value in a table or a bar's label: NULL as a dash, a boolean in Indonesian."""
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    return "—" if value is None else str(value)


def _page(request: Request, template: str, **context: Any) -> Response:
    portal = request.app.state.hub.settings.portal_title
    body = _ENV.get_template(template).render(
        request_path=request.url.path, shown=_shown, portal=portal, **context
    )
    return cached(request, body.encode(), HTML, extra=CSP)


def _failed(request: Request, failure: PageFailed) -> Response:
    access.failed(failure.code)
    body = _ENV.get_template("error.html").render(
        request_path=request.url.path, status=failure.status, message=failure.message, code=failure.code,
        portal=request.app.state.hub.settings.portal_title,
    )  # fmt: skip
    headers = {"Cache-Control": "no-store", **CSP}
    return Response(body, status_code=failure.status, media_type=HTML, headers=headers)
