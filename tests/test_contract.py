"""The adapter contract suite: the same residents served through SQL, REST, a CSV file
and another hub must give identical answers to the same GraphQL questions -
filters, orderBy with keyset pages, relationships into another source, aggregates
and match. REST and the remote hub are real servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hub.http.app import create_app
from tests.support.catalogs import (
    DINSOS,
    PENDUDUK_FIELDS,
    Spec,
    opd_file,
    penduduk,
    penerima_bansos,
    sql_source,
    write_opd,
)
from tests.support.regency import Regency, start_hub, start_regency, write_policies
from tests.support.rest_server import RestServer
from tests.support.servers import serve
from tests.test_file_adapter import write_csv

KINDS = ("sql", "rest", "file", "graphql")
SELECT = "nik nama kecamatan tanggalLahir statusHidup tinggi saldo anak"


def namespace(kind: str, source: Spec, *, own_names: bool = False, **dataset: Any) -> Spec:
    """The OPD `k_<kind>`: the residents on `source`, every field internal (the contract is
    about answers, not access); with `own_names` the source serves status_hidup by that
    name rather than as is_alive."""
    fields: dict[str, Spec] = {f: {"classification": "internal"} for f in PENDUDUK_FIELDS}
    if own_names:
        fields["status_hidup"]["column"] = None
    residents = penduduk("main", fields=fields, **dataset)
    return opd_file(
        {"id": f"k_{kind}", "name": f"Residents through {kind}"}, {"main": source}, {"penduduk": residents}
    )


class Contract:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def ask(self, kind: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        q = query.replace("NS", f"k{kind.title()}").replace("TYPE", f"K{kind.title()}Penduduk")
        r = await self.client.post("/graphql", json={"query": q, "variables": variables})
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, (kind, body)
        return body["data"][f"k{kind.title()}"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def contract(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Contract]:
    tmp = tmp_path_factory.mktemp("contract")
    (tmp / "remote").mkdir()
    remote: Regency = await start_regency("sqlite", tmp / "remote")
    key = remote.client.headers["Authorization"].removeprefix("Bearer ")
    people_db, recipients_db = (db.url for db in remote.databases)
    rest = RestServer(remote.people)
    csv = write_csv(tmp / "penduduk.csv", remote.people)
    async with serve(create_app(hub=remote.hub)) as hub_url, serve(rest.app) as rest_url:
        schema = tmp / "local" / "schema"
        files = [
            namespace("sql", {"adapter": "sql", "url": people_db}, table="penduduk"),
            namespace(
                "rest", {"adapter": "rest", "url": rest_url}, own_names=True, path="/flat/page", records="data",
                pagination={"style": "page", "size": 25}, params={"kecamatan": "kecamatan", "nik": "nik"},
            ),
            namespace("file", {"adapter": "file", "path": str(csv)}),
            namespace(
                "graphql",
                {"adapter": "graphql", "url": f"{hub_url}/graphql", "headers": {"Authorization": f"Bearer {key}"}},
                own_names=True, path="dukcapil.penduduk",
            ),
        ]  # fmt: skip
        for content in files:
            write_opd(schema, content)
        # the remote's recipients, joined to the residents through SQL
        to_sql = {"penduduk": {"to": "k_sql.penduduk", "join": {"nik": "nik"}}}
        recipients = penerima_bansos(relationships=to_sql)
        write_opd(
            schema, opd_file(DINSOS, {"main": sql_source(recipients_db)}, {"penerima_bansos": recipients})
        )
        write_policies(tmp / "local" / "policies")
        hub, client = await start_hub(tmp / "local")
        try:
            yield Contract(client)
        finally:
            await client.aclose()
            await hub.close()
    await remote.close()


WHERES: list[dict[str, Any]] = [
    {},
    {"kecamatan": {"eq": "Meral"}},
    {"kecamatan": {"in": ["Moro", "Tebing"]}, "anak": {"gte": 1}},
    {"or": [{"anak": {"isNull": True}}, {"tinggi": {"gt": 180}}]},
    {"not": {"kecamatan": {"eq": "Moro"}}, "statusHidup": {"eq": True}},
    {"nama": {"like": "%an%"}, "tanggalLahir": {"lt": "1980-01-01"}},
    {"kecamatan": {"neq": "Meral"}, "saldo": {"gte": "50000"}},
    {"nik": {"eq": "' OR 1=1 --"}},
]
ORDERS: list[list[dict[str, str]]] = [
    [],
    [{"tanggalLahir": "DESC"}],
    [{"kecamatan": "ASC"}, {"nama": "DESC"}],
]
PAGE = f"""query($w: TYPEWhere, $o: [TYPEOrderBy!], $a: String) {{ NS {{
  penduduk(where: $w, orderBy: $o, first: 37, after: $a) {{
    totalCount nodes {{ {SELECT} penerimaBansos {{ id program nominal }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"""


async def walk(c: Contract, kind: str, where: dict[str, Any], order: list[dict[str, str]]) -> list[Any]:
    pages, after = [], None
    for _ in range(50):
        page = (await c.ask(kind, PAGE, {"w": where, "o": order, "a": after}))["penduduk"]
        pages.append(
            {k: v for k, v in page.items() if k != "pageInfo"} | {"more": page["pageInfo"]["hasNextPage"]}
        )
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("more than 50 pages")


@pytest.mark.parametrize("kind", KINDS[1:])
@pytest.mark.parametrize("order", ORDERS, ids=[str(o) for o in ORDERS])
@pytest.mark.parametrize("where", WHERES, ids=[str(w) for w in WHERES])
async def test_pages_equal_sql(contract: Contract, kind: str, where: dict[str, Any], order: Any) -> None:
    assert await walk(contract, kind, where, order) == await walk(contract, "sql", where, order)


AGGREGATE = """{ NS { pendudukAggregate(groupBy: [kecamatan, statusHidup], where: {anak: {gte: 0}}) {
  group { kecamatan statusHidup } count suppressed sum { anak } min { tanggalLahir nama } max { anak } } } }"""


@pytest.mark.parametrize("kind", KINDS[1:])
async def test_aggregates_equal_sql(contract: Contract, kind: str) -> None:
    mine, sql = await contract.ask(kind, AGGREGATE), await contract.ask("sql", AGGREGATE)
    assert mine == sql and len(sql["pendudukAggregate"]) > 5


MATCH = """query($r: [TYPEMatchInput!]!) { NS { pendudukMatch(records: $r) {
  index found nama kecamatan tanggalLahir } } }"""


@pytest.mark.parametrize("kind", KINDS[1:])
async def test_match_equals_sql(contract: Contract, kind: str) -> None:
    records = [
        {"nik": f"2102{1:012d}", "nama": "x"},
        {"nik": f"2102{2:012d}", "kecamatan": "Meral", "tanggalLahir": "1990-01-01"},
        {"nik": "999"},
    ] + [{"nik": f"2102{i:012d}", "nama": n} for i, n in ((5, "Ani"), (6, "ani"), (7, "Zulkifli"))]
    mine, sql = (
        await contract.ask(kind, MATCH, {"r": records}),
        await contract.ask("sql", MATCH, {"r": records}),
    )
    assert mine == sql
    assert [m["found"] for m in sql["pendudukMatch"]] == [True, True, False, True, True, True]


def test_every_built_in_kind_is_in_the_suite() -> None:
    import adapters

    assert set(adapters.BUILTIN) == set(KINDS), "an adapter kind the contract suite does not run"
