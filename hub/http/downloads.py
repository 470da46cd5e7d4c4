"""Downloads of what the public may read, streamed.

    GET /public/datasets/{opd}/{dataset}.csv | .ndjson | .json [?filters]

The fields are those `public` may read, in the catalog's order (the same as
/public/graphql shows); a dataset with none is not found, as one that does not exist.
Filters are query parameters in `where`'s terms, on those fields only:

    kecamatan=Meral            eq          tahun__gte=2025     neq lt lte gt gte
    program__in=PKH,BPNT       in / nin    nama__like=%an%     like (case-insensitive)
    anak__isnull=true          isNull

Rows come from the source a page at a time in key order (keyset, `download_page_rows`
a page, at most the source's `max_rows`), so memory does not grow with the table. A
stream either ends complete or ends with an error: a last CSV row `#ERROR,<code>,
<message>`, an NDJSON line `{"error": {...}}`, or JSON's `"complete": false` with the
error; a complete JSON says `"complete": true`. A bad request is answered before any
row, as `{"errors": [...]}` with the code and HTTP status of the API's errors.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from decimal import InvalidOperation
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from adapters.base import And, Cmp, Filter, Op, Order, PageQuery, Row
from hub import access
from hub.catalog import Dataset
from hub.errors import BadUserInput, HubError, NotFound
from hub.filter_size import FilterBudget
from hub.gql.scalars import BIGINT_MAX, BIGINT_MIN, OUTPUT, finite_decimal
from hub.http.hub import PUBLIC, Hub

log = logging.getLogger("hub.downloads")
MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson", "json": "application/json"}
OPS: dict[str, Op] = {op: op for op in ("eq", "neq", "lt", "lte", "gt", "gte", "in", "nin", "like")}
ERROR_ROW = "#ERROR"
STATUS = {"SOURCE_UNAVAILABLE": 503, "SOURCE_TIMEOUT": 504}  # before the first row


Pages = AsyncIterator[list[Row]]


async def download(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    seen = access.current()
    if seen is not None:
        seen.subject = PUBLIC
    try:
        ds, fmt = _dataset(hub, request.path_params["opd"], request.path_params["file"])
        fields = _public_fields(hub, ds)
        where = _filter(ds, fields, request.query_params.multi_items())
        FilterBudget(hub.filter_limits).check(where, ds.qualified)  # the API's limits
        pages = _rows(hub, ds, fields, where)
        first = await anext(pages)  # a source that is down answers before any row is sent
    except HubError as e:
        access.failed(e.code)
        body = {"errors": [{"message": e.message, "extensions": {"code": e.code}}]}
        return JSONResponse(body, status_code=STATUS.get(e.code, e.status if e.status != 200 else 400))
    filename = f"{ds.opd}-{ds.name}.{fmt}"
    return StreamingResponse(
        WRITERS[fmt](fields, ds, _again(first, pages)),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _dataset(hub: Hub, opd: str, file: str) -> tuple[Dataset, str]:
    name, _, fmt = file.rpartition(".")
    if fmt not in MEDIA:
        raise NotFound(f"downloads are .csv, .ndjson or .json, not {file!r}")
    ds = hub.catalog.datasets.get(f"{opd}.{name}")
    if ds is None:
        raise NotFound(f"no dataset {opd}.{name} with fields the public may read")
    return ds, fmt


def _public_fields(hub: Hub, ds: Dataset) -> tuple[str, ...]:
    pairs = [(f"{ds.qualified}.{f}", "read") for f in ds.fields]
    allowed = hub.policy.decide(PUBLIC, pairs)
    fields = tuple(f for f in ds.fields if allowed[(f"{ds.qualified}.{f}", "read")])
    if not fields:  # as if it did not exist: the public learns nothing of it
        raise NotFound(f"no dataset {ds.qualified} with fields the public may read")
    return fields


def _filter(ds: Dataset, fields: tuple[str, ...], params: Iterable[tuple[str, str]]) -> Filter | None:
    parts: list[Filter] = []
    for param, text in params:
        field, _, op = param.partition("__")
        op = op or "eq"
        if field not in fields:
            raise BadUserInput(f"{param}: {ds.qualified} has no field {field!r} the public may read")
        if op not in OPS and op != "isnull":
            raise BadUserInput(f"{param}: the operators are {', '.join(OPS)} and isnull")
        parse = PARSERS[ds.fields[field].type]
        if op == "isnull":
            if text not in ("true", "false"):
                raise BadUserInput(f"{param}: give true or false")
            parts.append(Cmp(field, "isNull", text == "true"))
        elif op in ("in", "nin"):
            parts.append(Cmp(field, OPS[op], tuple(_parsed(param, parse, v) for v in text.split(","))))
        elif op == "like":
            if ds.fields[field].type != "string":
                raise BadUserInput(f"{param}: like compares text; {field} is {ds.fields[field].type}")
            parts.append(Cmp(field, "like", text))
        else:
            parts.append(Cmp(field, OPS[op], _parsed(param, parse, text)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _parsed(param: str, parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except (ValueError, InvalidOperation):
        raise BadUserInput(f"{param}: {text!r} is not a value of that field's type") from None


def _boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(text)
    return text == "true"


def _integer(text: str) -> int:
    number = int(text)
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise ValueError(text)
    return number


PARSERS: dict[str, Callable[[str], Any]] = {
    "string": str,
    "integer": _integer,
    "float": float,
    "decimal": finite_decimal,
    "boolean": _boolean,
    "date": dt.date.fromisoformat,
    "datetime": dt.datetime.fromisoformat,
}


async def _again(first: list[Row], rest: Pages) -> AsyncIterator[list[Row]]:
    yield first
    async for page in rest:
        yield page


async def _rows(
    hub: Hub, ds: Dataset, fields: tuple[str, ...], where: Filter | None
) -> AsyncIterator[list[Row]]:
    """The rows, a page at a time, in key order; the key last when it is not public. The
    next page is asked for as soon as a page arrives, so the source reads it while this
    one is written out (at most two pages are held)."""
    source = hub.sources.of_dataset[ds.qualified]
    size = min(hub.settings.download_page_rows, source.max_rows)
    wanted = fields if ds.key in fields else (*fields, ds.key)
    at = wanted.index(ds.key)

    async def page(after: tuple[Any, ...] | None) -> list[Row]:
        query = PageQuery(ds.qualified, wanted, where, (Order(ds.key),), after, size)
        rows: list[Row] = await hub.sources.call(source, lambda a: a.fetch(query))
        return rows

    coming = asyncio.ensure_future(page(None))
    try:
        while True:
            rows = await coming
            if len(rows) < size:
                yield rows
                return
            coming = asyncio.ensure_future(page((rows[-1][at],)))
            yield rows
    finally:
        coming.cancel()  # the client went away, or a page failed: no page is left running


def _values(ds: Dataset, fields: tuple[str, ...]) -> Callable[[Row], list[Any]]:
    converters = [OUTPUT[ds.fields[f].type] for f in fields]

    def values(row: Row) -> list[Any]:
        return [v if c is None or v is None else c(v) for c, v in zip(converters, row, strict=False)]

    return values


async def _guarded(pages: Pages, ds: Dataset) -> AsyncIterator[list[Row] | HubError]:
    """The pages, then the error that ended them, if one did."""
    try:
        async for page in pages:
            yield page
    except HubError as e:
        access.failed(e.code)
        yield e
    except Exception:
        log.exception("download of %s failed", ds.qualified)
        access.failed("INTERNAL")
        yield HubError("the download failed; the hub's log has the details")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _truth(value: Any) -> str:
    return "true" if value else "false"  # None never reaches it


# what makes a source's value CSV text, by field type; None: the csv module writes it as it is
CSV_TEXT: Mapping[str, Callable[[Any], Any] | None] = {
    "string": None, "integer": OUTPUT["integer"], "float": OUTPUT["float"], "decimal": OUTPUT["decimal"],
    "boolean": _truth, "date": _iso, "datetime": _iso,
}  # fmt: skip


def _csv_rows(ds: Dataset, fields: tuple[str, ...]) -> Callable[[list[Row]], Iterable[Sequence[Any]]]:
    """A page's rows as the CSV writer takes them: converted only in the columns that need
    it, without the key when it is not public, and passed on untouched when neither."""
    steps = [(i, step) for i, f in enumerate(fields) if (step := CSV_TEXT[ds.fields[f].type]) is not None]
    width = len(fields)
    if not steps and ds.key in fields:
        return lambda page: page

    def rows(page: list[Row]) -> Iterable[Sequence[Any]]:
        out = []
        for row in page:
            cells = list(row[:width])
            for i, step in steps:
                if cells[i] is not None:
                    cells[i] = step(cells[i])
            out.append(cells)
        return out

    return rows


async def _csv(fields: tuple[str, ...], ds: Dataset, pages: Pages) -> AsyncIterator[bytes]:
    rows = _csv_rows(ds, fields)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    async for page in _guarded(pages, ds):
        if isinstance(page, HubError):
            writer.writerow([ERROR_ROW, page.code, page.message])
        else:
            writer.writerows(rows(page))
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
    if out.tell():
        yield out.getvalue().encode()


async def _ndjson(fields: tuple[str, ...], ds: Dataset, pages: Pages) -> AsyncIterator[bytes]:
    values = _values(ds, fields)
    async for page in _guarded(pages, ds):
        if isinstance(page, HubError):
            yield orjson.dumps({"error": {"code": page.code, "message": page.message}}) + b"\n"
            return
        yield b"".join(orjson.dumps(dict(zip(fields, values(r), strict=False))) + b"\n" for r in page)


async def _json(fields: tuple[str, ...], ds: Dataset, pages: Pages) -> AsyncIterator[bytes]:
    values = _values(ds, fields)
    yield b'{"fields":' + orjson.dumps(list(fields)) + b',"rows":['
    first = True
    async for page in _guarded(pages, ds):
        if isinstance(page, HubError):
            error = {"code": page.code, "message": page.message}
            yield b'],"complete":false,"error":' + orjson.dumps(error) + b"}"
            return
        if page:
            chunk = b",".join(orjson.dumps(dict(zip(fields, values(r), strict=False))) for r in page)
            yield (b"" if first else b",") + chunk
            first = False
    yield b'],"complete":true}'


WRITERS: Mapping[str, Callable[[tuple[str, ...], Dataset, Pages], AsyncIterator[bytes]]] = {
    "csv": _csv,
    "ndjson": _ndjson,
    "json": _json,
}
