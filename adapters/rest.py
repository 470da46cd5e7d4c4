"""REST/JSON sources: records listed by an HTTP API, answered in memory.

The adapter GETs a dataset's records page by page, converts each field to its catalog
type and lets `adapters.memory` filter, sort, count and group them. Equality filters
on fields named in `params` are sent as query parameters, so the API narrows what it
sends. At most `max_rows` records are collected per question (`RowBudgetExceeded`).

    sources:
      prices_api:
        adapter: rest
        url: https://bpkad.example.go.id/api             # base URL
        headers: {Authorization: "Bearer ${BPKAD_API_TOKEN}"}
        timeout: 5                                       # seconds per request
        retries: 2                                       # extra tries of a GET (default 2)
        max_rows: 50000                                  # records one question may collect
    datasets:
      ssh:
        source: prices_api
        path: /ssh                                       # resource path under url
        records: data.items                              # dotted path to the list in each page;
                                                         # omitted: the body is the list
        pagination: {style: page, page_param: page, size_param: size, size: 100}
        # or {style: offset, offset_param: offset, limit_param: limit, size: 100}
        # or {style: next, next: links.next}  (URL of the next page, absolute or relative)
        params: {kategori: kategori}                     # field -> query parameter for `eq`
        key: kode
        fields:
          kode:      {type: string, classification: public}
          kategori:  {type: string, classification: public, path: meta.kategori}
          harga:     {type: decimal, classification: public}

`page` and `offset` paging ends at the first page shorter than `size` (so `size` must
not exceed the API's own maximum); `next` paging ends when the next URL is missing or
null. An empty page ends any paging; an API that repeats a page or a next URL fails.
A next URL must stay on the base URL's origin and redirects are not followed (a 3xx is a
failure): the headers carry credentials. Only GETs are made; connection errors, timeouts
and HTTP 502/503/504 are retried with exponential backoff (0.1 s, 0.2 s, ...). Every other
failure is a `SourceError` naming the dataset and the reason (status, content type, path),
never a body, a header value, a URL or a record value; a 4xx that refuses the request itself
(400, 404, 414, 422, …) is a `QueryRejected`, which does not count against the source.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx
import orjson

from adapters.base import Binding, QueryRejected, SourceError
from adapters.memory import Record, RecordsAdapter, RowBudgetExceeded

RETRY_STATUS = frozenset({502, 503, 504})
# Answers that refuse the request the hub built (its parameters, its length), as
# opposed to the API's own trouble (5xx), its credentials (401, 403) or its load (429).
REFUSALS = frozenset({400, 404, 405, 406, 409, 410, 411, 413, 414, 415, 422})
RETRY_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
BACKOFF = 0.1  # seconds before the first retry; doubles each time


def _dig(value: Any, path: str) -> Any:
    """The value at dotted `path` in nested objects; None where something is missing."""
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise ValueError


def _integer(v: Any) -> int:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, int | str) and not isinstance(v, bool):
        return int(v)
    raise ValueError


def _number(v: Any) -> float:
    if isinstance(v, int | float | str) and not isinstance(v, bool):
        return float(v)
    raise ValueError


def _decimal(v: Any) -> Decimal:
    if isinstance(v, int | float | str) and not isinstance(v, bool):
        d = Decimal(str(v))
        if d.is_finite():
            return d
    raise ValueError


def _string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)  # identifiers some APIs send as numbers
    raise ValueError


def _iso(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def convert(v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError
        return parse(v)

    return convert


CONVERT: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "integer": _integer,
    "float": _number,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _iso(dt.date.fromisoformat),
    "datetime": _iso(dt.datetime.fromisoformat),
}


def _param(v: Any) -> str:
    """A filter value as a query parameter."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return str(v)


def _json_type(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class _Resource:
    """One dataset: where its pages are and how a record maps onto its fields."""

    def __init__(self, base: str, b: Binding) -> None:
        path = str(b.options.get("path") or "")
        self.url = f"{base.rstrip('/')}/{path.lstrip('/')}" if path else base
        self.records = b.options.get("records") or None
        self.pagination: Mapping[str, Any] | None = b.options.get("pagination")
        if self.pagination and self.pagination.get("style") == "next" and not self.pagination.get("next"):
            raise ValueError(f"{b.name}: pagination style `next` needs `next` (dotted path to the URL)")
        self.params: dict[str, str] = dict(b.options.get("params") or {})
        unknown = set(self.params) - set(b.types)
        if unknown:
            raise ValueError(f"{b.name}: params name unknown fields: {', '.join(sorted(unknown))}")
        self.fields = [(f, b.columns.get(f, f), CONVERT[t], t) for f, t in b.types.items()]


class RestAdapter(RecordsAdapter):
    """Config keys: `url`, `headers`, `timeout`, `retries`, `max_rows`; dataset keys
    `path`, `records`, `pagination`, `params` (see the module docstring)."""

    def __init__(self, name: str, config: Mapping[str, Any], bindings: Sequence[Binding]) -> None:
        super().__init__(name, config, bindings)
        if not config.get("url"):
            raise ValueError(f"source {name}: the rest adapter needs `url`")
        self.url = str(config["url"])
        base = httpx.URL(self.url)
        self.origin = (base.scheme, base.host, base.port)  # where next URLs may point
        self.headers = dict(config.get("headers") or {})
        self.timeout = float(config.get("timeout") or 5)
        retries = config.get("retries")
        self.retries = 2 if retries is None else int(retries)
        self.resources = {b.name: _Resource(self.url, b) for b in bindings}
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # created on first use, inside the running loop
            self._client = httpx.AsyncClient(headers=self.headers, timeout=self.timeout)
        return self._client

    async def _get(self, url: str | httpx.URL, params: Mapping[str, Any], what: str) -> httpx.Response:
        """GET with retries of transient failures; a non-2xx answer is a SourceError."""
        for attempt in range(self.retries + 1):
            retry = attempt < self.retries
            try:
                r = await self.client.get(url, params=params or None)  # {} would drop url's query
            except RETRY_ERRORS as e:
                if not retry:
                    raise SourceError(f"{self.name}: {what}: {type(e).__name__}") from None
            except httpx.HTTPError as e:
                raise SourceError(f"{self.name}: {what}: {type(e).__name__}") from None
            else:
                if r.is_success:
                    return r
                if not (retry and r.status_code in RETRY_STATUS):
                    error = QueryRejected if r.status_code in REFUSALS else SourceError
                    raise error(f"{self.name}: {what}: HTTP {r.status_code}")
            await asyncio.sleep(BACKOFF * 2**attempt)
        raise AssertionError("unreachable")

    async def _page(self, url: str | httpx.URL, params: Mapping[str, Any], what: str) -> Any:
        r = await self._get(url, params, what)
        content_type = r.headers.get("content-type", "")
        if not _json_type(content_type):
            raise SourceError(f"{self.name}: {what}: content type {content_type[:60]!r}, not JSON")
        try:
            return orjson.loads(r.content)
        except orjson.JSONDecodeError:
            raise SourceError(f"{self.name}: {what}: body is not valid JSON") from None

    def _items(self, res: _Resource, body: Any, what: str) -> list[Any]:
        items = _dig(body, res.records) if res.records else body
        if items is None and res.records:
            raise SourceError(f"{self.name}: {what}: no `{res.records}` in the body")
        if not isinstance(items, list):
            raise SourceError(f"{self.name}: {what}: `{res.records or '(body)'}` is not a list")
        return items

    async def _pages(self, dataset: str, res: _Resource, params: dict[str, str]) -> list[Any]:
        """Every record on every page, raw; RowBudgetExceeded past max_rows."""
        p = res.pagination or {}
        style, size = p.get("style"), int(p.get("size") or 100)
        out: list[Any] = []
        url: str | httpx.URL = res.url
        seen = {str(httpx.URL(res.url))}
        previous: list[Any] | None = None
        number = 0
        while True:
            number += 1
            what = f"{dataset} page {number}"
            query = dict(params)
            if style == "page":
                query |= {p["page_param"]: str(number), p["size_param"]: str(size)}
            elif style == "offset":
                query |= {p["offset_param"]: str(len(out)), p["limit_param"]: str(size)}
            elif style == "next" and number > 1:
                query = {}  # the next URL carries its own query
            body = await self._page(url, query, what)
            items = self._items(res, body, what)
            if items and items == previous:
                raise SourceError(f"{self.name}: {what}: the same page again (pagination loop)")
            out += items
            if len(out) > self.max_rows:
                raise RowBudgetExceeded(f"{self.name}: {dataset} has more than {self.max_rows} records")
            if not items or style is None:
                return out
            if style == "next":
                link = _dig(body, p["next"])
                if link is None or link == "":
                    return out
                if not isinstance(link, str):
                    raise SourceError(f"{self.name}: {what}: `{p['next']}` is not a URL")
                try:
                    url = httpx.URL(str(url)).join(link)
                except httpx.InvalidURL:
                    raise SourceError(f"{self.name}: {what}: `{p['next']}` is not a URL") from None
                if (url.scheme, url.host, url.port) != self.origin:
                    raise SourceError(f"{self.name}: {what}: next URL leaves the source's origin")
                if str(url) in seen:
                    raise SourceError(f"{self.name}: {what}: next URL repeats (pagination loop)")
                seen.add(str(url))
            elif len(items) < size:
                return out
            previous = items

    def _record(self, dataset: str, res: _Resource, index: int, raw: Any) -> Record:
        if not isinstance(raw, dict):
            raise SourceError(f"{self.name}: {dataset}: record {index} is not an object")
        out: dict[str, Any] = {}
        for field, path, convert, type_ in res.fields:
            v = _dig(raw, path)
            try:
                out[field] = None if v is None else convert(v)
            except (ValueError, TypeError, ArithmeticError):
                raise SourceError(
                    f"{self.name}: {dataset}: record {index}: field {field!r} is not a valid {type_}"
                ) from None
        return out

    def pushable(self, dataset: str) -> Iterable[str]:
        return self.resources[dataset].params

    async def records(self, dataset: str, equal: Mapping[str, Any]) -> list[Record]:
        res = self.resources[dataset]
        params = {res.params[f]: _param(v) for f, v in equal.items() if f in res.params and v is not None}
        raw = await self._pages(dataset, res, params)
        return [self._record(dataset, res, i, r) for i, r in enumerate(raw)]

    async def health(self) -> None:
        """The base URL answers HTTP below 500 (a 401 or 404 is alive)."""
        try:
            r = await self.client.get(self.url)
        except httpx.HTTPError as e:
            raise SourceError(f"{self.name}: health: {type(e).__name__}") from None
        if r.status_code >= 500:
            raise SourceError(f"{self.name}: health: HTTP {r.status_code}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
