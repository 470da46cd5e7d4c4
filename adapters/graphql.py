"""Datasets served by another OPD Hub (or any GraphQL API with the same conventions).

Two regencies' hubs federate this way: filters, ordering, keyset positions, counts,
batched lookups and aggregates are all forwarded as GraphQL, so the remote hub's
policy and audit apply to what this hub asks.

    sources:
      karimun_hub:
        adapter: graphql
        url: https://hub.tetangga.example.go.id/graphql
        headers: {Authorization: "Bearer ${NEIGHBOUR_HUB_KEY}"}
        timeout: 5
    datasets:
      penduduk_karimun:
        source: karimun_hub
        path: dukcapil.penduduk        # the remote <opd>.<dataset>
        key: nik
        fields:
          nik: {type: string, classification: confidential}
          kecamatan: {type: string, classification: public, path: kecamatan}  # remote field

A keyset position (`after`) is sent as a filter, so it works whatever cursors the
remote issues. Remote errors are `SourceError`s (`QueryRejected` when the remote refused
the query itself: bad input, too complex, forbidden); their text goes to the log only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from adapters.base import (
    Adapter,
    AggregateQuery,
    And,
    Binding,
    Cmp,
    FieldRef,
    Filter,
    Not,
    Or,
    Order,
    PageQuery,
    QueryRejected,
    Row,
    SourceError,
)

REMOTE_PAGE = 1000  # the most a hub hands out per page


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _pascal(*names: str) -> str:
    return "".join(p[:1].upper() + p[1:] for n in names for p in n.split("_"))


def _json(v: Any) -> Any:
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, tuple | list):
        return [_json(x) for x in v]
    return v


def _parse(v: Any, type_: str) -> Any:
    if v is None:
        return None
    if type_ == "date":
        return dt.date.fromisoformat(v)
    if type_ == "datetime":
        return dt.datetime.fromisoformat(v)
    if type_ == "decimal":
        return Decimal(str(v))
    if type_ == "float":
        return float(v)
    return v


# Remote codes that refuse the query the hub sent (its shape, its size, or the remote
# policy towards this hub), as opposed to the remote's own trouble.
REFUSALS = frozenset({"BAD_USER_INPUT", "QUERY_TOO_COMPLEX", "FORBIDDEN", "PURPOSE_REQUIRED"})


class _Remote:
    """One remote dataset: its GraphQL names and how our fields map onto its fields."""

    def __init__(self, b: Binding) -> None:
        path = str(b.options.get("path") or "")
        if path.count(".") != 1:
            raise ValueError(f"{b.name}: a graphql dataset needs `path: <remote opd>.<remote dataset>`")
        self.opd, self.dataset = path.split(".")
        self.types = dict(b.types)
        self.remote = {f: _camel(b.columns[f]) for f in b.types}
        self.type_name = _pascal(self.opd, self.dataset)
        self.key = b.key

    def where(self, f: Filter | None) -> dict[str, Any]:
        if f is None:
            return {}
        if isinstance(f, Cmp) and isinstance(f.value, FieldRef):  # the same row's: a remote hub compares
            return {self.remote[f.field]: {f.op: {"field": self.remote[f.value.field]}}}
        if isinstance(f, Cmp):
            return {self.remote[f.field]: {f.op: _json(f.value)}}
        if isinstance(f, And):
            return {"and": [self.where(p) for p in f.parts]}
        if isinstance(f, Or):
            return {"or": [self.where(p) for p in f.parts]}
        if isinstance(f, Not):
            return {"not": self.where(f.part)}
        raise TypeError(f"not a filter: {f!r}")

    def after(self, order: Sequence[Order], values: Sequence[Any]) -> Filter:
        """Rows strictly after `values` in `order` (NULLs largest), as a filter."""
        alternatives: list[Filter] = []
        equal: list[Filter] = []
        for o, v in zip(order, values, strict=True):
            beyond: Filter | None
            if v is None:
                beyond = Cmp(o.field, "isNull", False) if o.descending else None
                same: Filter = Cmp(o.field, "isNull", True)
            elif o.descending:
                beyond, same = Cmp(o.field, "lt", v), Cmp(o.field, "eq", v)
            else:
                beyond = Cmp(o.field, "gt", v)
                if o.field != self.key:
                    beyond = Or((beyond, Cmp(o.field, "isNull", True)))
                same = Cmp(o.field, "eq", v)
            if beyond is not None:
                alternatives.append(And((*equal, beyond)))
            equal.append(same)
        return Or(tuple(alternatives)) if alternatives else Cmp(self.key, "isNull", True)

    def row(self, node: Mapping[str, Any], fields: Sequence[str]) -> Row:
        return tuple(_parse(node.get(self.remote[f]), self.types[f]) for f in fields)


class GraphQLAdapter(Adapter):
    """Config keys: `url`, `headers`, `timeout`; dataset key `path` (remote opd.dataset)."""

    computes_cell_keys = False  # the remote hub perturbs by its own key, or answers exactly

    def __init__(self, name: str, config: Mapping[str, Any], bindings: Sequence[Binding]) -> None:
        if not config.get("url"):
            raise ValueError(f"source {name}: the graphql adapter needs `url`")
        self.name = name
        self.url = str(config["url"])
        self.headers = dict(config.get("headers") or {})
        self.timeout = float(config.get("timeout") or 5)
        self.remotes = {b.name: _Remote(b) for b in bindings}
        self._client: httpx.AsyncClient | None = None

    async def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if self._client is None:
            self._client = httpx.AsyncClient(headers=self.headers, timeout=self.timeout)
        try:
            r = await self._client.post(self.url, json={"query": query, "variables": variables})
        except httpx.HTTPError as e:
            raise SourceError(f"{self.name}: {type(e).__name__}") from e
        try:
            body = r.json()
        except ValueError:
            raise SourceError(f"{self.name}: HTTP {r.status_code}, body is not JSON") from None
        if not isinstance(body, dict):
            raise SourceError(f"{self.name}: HTTP {r.status_code}, body is not a JSON object")
        if body.get("errors"):
            codes = sorted({str((e.get("extensions") or {}).get("code")) for e in body["errors"]})
            error = QueryRejected if REFUSALS.issuperset(codes) else SourceError
            raise error(f"{self.name}: remote errors {', '.join(codes)}")
        if r.status_code != 200 or not isinstance(body.get("data"), dict):
            raise SourceError(f"{self.name}: HTTP {r.status_code} without data")
        data: dict[str, Any] = body["data"]
        return data

    async def _connection(
        self, rem: _Remote, where: dict[str, Any], order: list[dict[str, str]], selection: str,
        first: int, after: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        ds = _camel(rem.dataset)
        args = "where: $w, orderBy: $o, first: $n, after: $a"
        query = (
            f"query($w: {rem.type_name}Where, $o: [{rem.type_name}OrderBy!], $n: Int, $a: String) "
            f"{{ {_camel(rem.opd)} {{ {ds}({args}) {{ {selection} }} }} }}"
        )
        data = await self._post(query, {"w": where, "o": order, "n": first, "a": after})
        conn = (data.get(_camel(rem.opd)) or {}).get(ds)
        if not isinstance(conn, dict):
            raise SourceError(f"{self.name}: no {rem.opd}.{rem.dataset} in the answer")
        return conn

    async def fetch(self, query: PageQuery) -> list[Row]:
        rem = self.remotes[query.dataset]
        where = query.where
        if query.after is not None:
            position = rem.after(query.order, query.after)
            where = And((where, position)) if where is not None else position
        order = [{rem.remote[o.field]: "DESC" if o.descending else "ASC"} for o in query.order]
        fields = " ".join(rem.remote[f] for f in query.fields)
        rows: list[Row] = []
        cursor = None
        while len(rows) < query.limit:
            n = min(REMOTE_PAGE, query.limit - len(rows))
            conn = await self._connection(
                rem,
                rem.where(where),
                order,
                f"nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }}",
                n,
                cursor,
            )
            rows += [rem.row(node, query.fields) for node in conn.get("nodes") or []]
            info = conn.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                break
            cursor = info.get("endCursor")
        return rows

    async def count(self, dataset: str, where: Filter | None) -> int:
        rem = self.remotes[dataset]
        conn = await self._connection(rem, rem.where(where), [], "totalCount", 0, None)
        return int(conn["totalCount"])

    async def lookup(
        self,
        dataset: str,
        field: str,
        values: Sequence[Any],
        fields: tuple[str, ...],
        limit: int | None = None,
    ) -> list[Row]:
        """With `limit`, the remote is asked for no more pages once that many are found."""
        out: list[Row] = []
        rem = self.remotes[dataset]
        for start in range(0, len(values), REMOTE_PAGE):
            chunk = tuple(values[start : start + REMOTE_PAGE])
            page = PageQuery(
                dataset, fields, Cmp(field, "in", chunk), (Order(rem.key),), None, 10 * REMOTE_PAGE
            )
            out += await self.fetch(page)
            if limit is not None and len(out) >= limit:
                break
        return out[:limit]

    async def aggregate(self, query: AggregateQuery) -> list[Row]:
        if query.cell_key is not None:  # the remote hub perturbs (or not) by its own rules
            raise QueryRejected(f"{self.name}: a remote hub does not give cell keys")
        flags = "suppressed perturbed" if query.published else "suppressed"
        rem = self.remotes[query.dataset]
        measures = {fn: [f for m, f in query.measures if m == fn] for fn, _ in query.measures}
        grouped = " ".join(rem.remote[f] for f in query.group_by)
        selection = f"group {{ {grouped} }} count" if query.group_by else "count"
        for fn, fs in measures.items():
            selection += f" {fn} {{ {' '.join(rem.remote[f] for f in fs)} }}"
        ds = _camel(rem.dataset) + "Aggregate"
        group_by = [rem.remote[f] for f in query.group_by]
        q = (
            f"query($w: {rem.type_name}AggregateWhere, $g: [{rem.type_name}Field!]) "
            f"{{ {_camel(rem.opd)} {{ {ds}(where: $w, groupBy: $g) {{ {selection} {flags} }} }} }}"
        )
        data = await self._post(q, {"w": rem.where(query.where), "g": group_by})
        groups = (data.get(_camel(rem.opd)) or {}).get(ds) or []
        out: list[Row] = []
        for g in groups:
            if g.get("suppressed"):
                raise SourceError(
                    f"{self.name}: the remote suppressed a group; its count is not ours to give"
                )
            key = rem.row(g.get("group") or {}, query.group_by)
            values = [_parse((g.get(fn) or {}).get(rem.remote[f]), "float" if fn == "avg" else rem.types[f])
                      for fn, f in query.measures]  # fmt: skip
            flag = (bool(g.get("perturbed")),) if query.published else ()
            out.append((*key, int(g["count"]), *values, *flag))
        return out

    async def health(self) -> None:
        await self._post("{ __typename }", {})

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
