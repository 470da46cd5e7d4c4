"""CKAN's action API, read-only, over the open catalog: CKAN harvesters and clients
(`ckanapi`) read what the public may see of the catalog.

    GET|POST /api/3/action/<action>    also /api/action/<action>, the path ckanapi calls

Parameters come as query parameters (GET, or a POST without a body) or as a JSON
object in a POST body (a form post too). The actions:

    package_list        names of the open datasets, by name         limit, offset
    package_show        one dataset (hub/http/ckan_dicts.py)         id: its name or id
    package_search      datasets whose title, description, name, tags or organisation hold
                        every word of `q` (any case; empty or `*:*`: all), by name
                                                                     q, rows (10, at most 1000), start
    organization_list   OPD ids (all_fields=true: their dicts)       all_fields, limit, offset
    organization_show   one OPD                                      id: its name or id, include_datasets
    help_show           what an action does                          name

Other parameters (`fq`, `sort`, `facet.field`, …) are ignored. Answers are CKAN's:
`{"help": …, "success": true, "result": …}`, or `"success": false` with an `error`:
404 `{"__type": "Not Found Error", "message": "Not found"}`, 409 `{"__type": "Validation
Error", "<parameter>": ["<message>"]}`; an unknown action or a body that is not a JSON
object is 400 with a JSON string (`"Bad request - Action name not known: …"`), as
CKAN answers. A GET's answer carries an ETag (hub/http/caching.py).

Example:
    $ curl -s 'http://127.0.0.1:8000/api/3/action/package_show?id=dinkes-puskesmas'
    {"help": "…", "success": true, "result": {"name": "dinkes-puskesmas", …}}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from hub.errors import BodyTooLarge
from hub.http.caching import cached
from hub.http.ckan_dicts import (
    find_organization,
    find_package,
    organization,
    package,
    package_name,
)
from hub.http.graphql_http import JSON, read_body
from hub.http.open_catalog import OpenCatalog, OpenDataset, base_url, open_catalog

Params = dict[str, Any]
MAX_ROWS = 1000  # package_search's largest page, as CKAN's `ckan.search.rows_max`
TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})


class ActionError(Exception):
    status = 400

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error)
        self.error = error


class NotFound(ActionError):
    status = 404

    def __init__(self) -> None:
        super().__init__({"__type": "Not Found Error", "message": "Not found"})


class Invalid(ActionError):
    status = 409

    def __init__(self, param: str, message: str) -> None:
        super().__init__({"__type": "Validation Error", param: [message]})


@dataclass(frozen=True)
class View:
    catalog: OpenCatalog
    base: str  # where the public reaches the hub

    def package(self, ds: OpenDataset) -> dict[str, Any]:
        opd = self.catalog.opd(ds.opd)
        assert opd is not None  # an open dataset's OPD is open
        return package(ds, opd, self.base)


async def action(request: Request) -> Response:
    """parameters -> the action, on the open catalog -> CKAN's envelope."""
    hub = request.app.state.hub
    name = request.path_params["action"]
    base = base_url(hub, request)
    run = ACTIONS.get(name)
    if run is None:
        return _bad_request(f"Action name not known: {name}")
    try:
        params = await _params(request, hub.settings.max_body_bytes)
    except BodyTooLarge as e:
        return _bad_request(e.message, 413)
    except ValueError as e:
        return _bad_request(f"JSON Error: {e}")
    envelope: dict[str, Any] = {"help": f"{base}/api/3/action/help_show?name={name}"}
    try:
        envelope |= {"success": True, "result": run(View(open_catalog(hub), base), params)}
    except ActionError as e:
        envelope |= {"success": False, "error": e.error}
        return Response(orjson.dumps(envelope), e.status, media_type=JSON)
    body = orjson.dumps(envelope)
    return cached(request, body, JSON) if request.method == "GET" else Response(body, media_type=JSON)


def _bad_request(message: str, status: int = 400) -> Response:
    return Response(orjson.dumps(f"Bad request - {message}"), status, media_type=JSON)


async def _params(request: Request, limit: int) -> Params:
    """The query parameters (a repeated one as a list), or the POST body's JSON object."""
    body = await read_body(request, limit) if request.method == "POST" else b""
    if not body.strip():
        found: Any = _mixed(request.query_params.multi_items())
    else:
        try:
            found = orjson.loads(body)
        except orjson.JSONDecodeError:
            found = _form(request.headers.get("content-type", ""), body)
    if not isinstance(found, dict):
        raise ValueError(f"Request data JSON decoded to {found!r} but it needs to be a dictionary.")
    found.pop("callback", None)
    return found


def _form(content_type: str, body: bytes) -> Any:
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise ValueError("the body is not JSON")
    items = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if len(items) == 1 and items[0][1] in ("", "1"):  # a JSON object sent as a form's only key
        try:
            return orjson.loads(items[0][0])
        except orjson.JSONDecodeError:
            pass
    return _mixed(items)


def _mixed(items: list[tuple[str, str]]) -> Params:
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        grouped.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


def _natural(params: Params, key: str, default: int | None) -> int | None:
    value = params.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise Invalid(key, "Invalid integer") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(key, "Invalid integer")
    if value < 0:
        raise Invalid(key, "Must be a natural number")
    return value


def _text(params: Params, key: str, default: str = "") -> str:
    value = params.get(key, default)
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise Invalid(key, "Must be a string")
    return value


def _required(params: Params, key: str) -> str:
    value = _text(params, key)
    if not value:
        raise Invalid(key, "Missing value")
    return value


def _bool(params: Params, key: str) -> bool:
    value = params.get(key, False)
    return value if isinstance(value, bool) else str(value).strip().lower() in TRUE


def _page(items: list[Any], params: Params) -> list[Any]:
    offset = _natural(params, "offset", 0) or 0
    limit = _natural(params, "limit", None)
    return items[offset : None if limit is None else offset + limit]


def package_list(view: View, params: Params) -> list[str]:
    """The names of the open datasets, sorted; `limit` and `offset` page them."""
    return _page(sorted(package_name(d) for d in view.catalog.datasets()), params)


def package_show(view: View, params: Params) -> dict[str, Any]:
    """One open dataset, by its name or id (`id`)."""
    wanted = _text(params, "id") or _required(params, "name_or_id")
    found = find_package(view.catalog, view.base, wanted)
    if found is None:
        raise NotFound
    return view.package(found)


def package_search(view: View, params: Params) -> dict[str, Any]:
    """The open datasets matching every word of `q` (`rows` from `start`), by name."""
    words = _text(params, "q").strip().lower()
    rows = min(_natural(params, "rows", 10) or 0, MAX_ROWS)
    start = _natural(params, "start", 0) or 0
    terms = [] if words in ("", "*:*", "*") else words.split()
    found = sorted((d for d in view.catalog.datasets() if _matches(view, d, terms)), key=package_name)
    results = [view.package(d) for d in found[start : start + rows]]
    return {"count": len(found), "results": results, "sort": "name asc", "facets": {}, "search_facets": {}}


def _matches(view: View, ds: OpenDataset, terms: list[str]) -> bool:
    opd = view.catalog.opd(ds.opd)
    about = (ds.title, ds.description, package_name(ds), *ds.keywords, ds.opd, opd.name if opd else "")
    text = "\n".join(about).lower()
    return all(t in text for t in terms)


def organization_list(view: View, params: Params) -> list[Any]:
    """The OPDs with an open dataset, by id; `all_fields=true` gives their dicts."""
    opds = _page(list(view.catalog.opds), params)
    if _bool(params, "all_fields"):
        return [organization(o, view.base, len(o.datasets)) for o in opds]
    return [o.id for o in opds]


def organization_show(view: View, params: Params) -> dict[str, Any]:
    """One OPD, by its name or id (`id`); `include_datasets=true` adds its open datasets."""
    found = find_organization(view.catalog, view.base, _required(params, "id"))
    if found is None:
        raise NotFound
    shown = organization(found, view.base, len(found.datasets))
    if _bool(params, "include_datasets"):
        shown["packages"] = [view.package(d) for d in found.datasets]
    return shown


def help_show(_view: View, params: Params) -> str:
    """What an action (`name`) does."""
    run = ACTIONS.get(_required(params, "name"))
    if run is None:
        raise NotFound
    return run.__doc__ or ""


ACTIONS: dict[str, Callable[[View, Params], Any]] = {
    "package_list": package_list,
    "package_show": package_show,
    "package_search": package_search,
    "organization_list": organization_list,
    "organization_show": organization_show,
    "help_show": help_show,
}
