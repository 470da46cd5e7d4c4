"""REST sources against a real HTTP server on loopback: every pagination style, answers
equal to SQL on the same rows, push-down, the row budget, retries, and every way an API
misbehaves ending as a coded error with the reason in the log only."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from adapters.base import AggregateQuery, And, Cmp, Filter, Measure, Not, Or, Order, PageQuery, SourceError
from adapters.memory import RowBudgetExceeded
from adapters.rest import CONVERT, RestAdapter
from hub.http.app import Hub
from hub.sources import binding
from tests.support.catalogs import DUKCAPIL, PENDUDUK_FIELDS, Spec, opd_file, penduduk, write_opd
from tests.support.databases import ScratchDatabase
from tests.support.proxy import closed_port
from tests.support.regency import PENDUDUK, load, make_rows, start_hub
from tests.support.rest_server import RestServer
from tests.support.servers import serve

FIELDS = tuple(PENDUDUK_FIELDS)
NESTED = {"kecamatan": "alamat.kecamatan", "tanggal_lahir": "lahir.tanggal", "status_hidup": "status.hidup"}
PUSH = {"kecamatan": "kecamatan", "nik": "nik"}
# dataset -> (path, records, pagination, params, field paths): the working REST datasets
WORKING: dict[str, tuple[str, str | None, dict[str, Any] | None, dict[str, str], dict[str, str]]] = {
    "lewat_halaman": ("/flat/page", "data", {"style": "page", "size": 25}, PUSH, {}),
    "lewat_offset": ("/flat/offset", "results", {"style": "offset", "size": 40}, PUSH, {}),
    "lewat_tautan": ("flat/next", "items", {"style": "next", "next": "links.next"}, PUSH, {}),
    "bersarang": ("/nested/page", "data.items", {"style": "page", "size": 100}, {"kecamatan": "kecamatan"}, NESTED),
    "semua": ("/flat/all", None, None, {}, {}),
}  # fmt: skip
REQUESTS_FOR_ALL = {"lewat_halaman": 17, "lewat_offset": 11, "lewat_tautan": 7, "bersarang": 5, "semua": 1}
NEXT = {"style": "next", "next": "links.next"}
# misbehaviour -> (records, pagination, the reason the log gets)
BROKEN: dict[str, tuple[str | None, dict[str, Any] | None, str]] = {
    "status": ("data", None, "HTTP 500"),
    "missing": ("data", None, "HTTP 404"),
    "json": ("data", None, "body is not valid JSON"),
    "html": ("data", None, "content type 'text/html"),
    "loop": ("items", NEXT, "next URL repeats (pagination loop)"),
    "same": ("data", {"style": "page", "size": 10}, "the same page again (pagination loop)"),
    "elsewhere": ("items", NEXT, "next URL leaves the source's origin"),
    "redirect": ("data", None, "HTTP 302"),
    "norecords": ("data", None, "no `data` in the body"),
    "notlist": ("data", None, "`data` is not a list"),
    "notobject": ("data", None, "record 1 is not an object"),
    "badvalue": ("data", None, "record 1: field 'anak' is not a valid integer"),
    "hang": ("data", None, "ReadTimeout"),
    "flaky": ("data", None, ""),
}


def dataset(source: str, paths: dict[str, str] | None = None, **options: Any) -> Spec:
    """The residents as a REST API serves them: each field under its own name, at
    `paths` inside a record; `options` left empty are left out."""
    fields: dict[str, Spec] = {f: {"path": path} for f, path in (paths or {}).items()}
    fields["status_hidup"] = {**fields.get("status_hidup", {}), "column": None}  # no is_alive here
    return penduduk(source, fields=fields, relationships={}, **{k: v for k, v in options.items() if v})


def catalog(db_url: str, api: str) -> Spec:
    datasets = {"penduduk": penduduk("db", table="penduduk", relationships={})}
    for name, (path, records, pagination, params, paths) in WORKING.items():
        datasets[name] = dataset(
            "api", paths, path=path, records=records, pagination=pagination, params=params
        )
    for what, (records, pagination, _) in BROKEN.items():
        datasets[f"rusak_{what}"] = dataset(
            "rusak", path=f"/broken/{what}", records=records, pagination=pagination
        )
    datasets["besar"] = dataset("kecil", path="/flat/page", records="data", params=PUSH,
                                pagination={"style": "page", "size": 25})  # fmt: skip
    sources = {
        "db": {"adapter": "sql", "url": db_url},
        "api": {"adapter": "rest", "url": api, "headers": {"Authorization": "Bearer ${REST_TOKEN}"}},
        "rusak": {"adapter": "rest", "url": api, "timeout": 1, "breaker_failures": 1000},
        "kecil": {"adapter": "rest", "url": api, "max_rows": 100},
    }
    return opd_file(DUKCAPIL, sources, datasets)


@dataclass
class World:
    server: RestServer
    url: str
    hub: Hub
    client: httpx.AsyncClient
    people: list[dict[str, Any]]

    def adapter(self, ds: str, **config: Any) -> RestAdapter:
        """A fresh adapter on the dataset's source as the catalog has it, with `config` over it."""
        d = self.hub.catalog.dataset(f"dukcapil.{ds}")
        return RestAdapter(d.source_name, {**d.source.model_dump(), **config}, [binding(d)])

    def live(self, ds: str) -> Any:
        return self.hub.sources.of_dataset[f"dukcapil.{ds}"].adapter

    def expected(self) -> list[dict[str, Any]]:
        return [{**{k: v for k, v in p.items() if k != "is_alive"}, "status_hidup": p["is_alive"]}
                for p in self.people]  # fmt: skip

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post("/graphql", json={"query": query, "variables": variables})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    people = make_rows()[0]
    server = RestServer(people)
    async with serve(server.app) as url:
        tmp = tmp_path_factory.mktemp("rest")
        db = await ScratchDatabase("sqlite", tmp).create()
        await load(db.url, PENDUDUK, people)
        write_opd(tmp / "schema", catalog(db.url, url))
        mp = pytest.MonkeyPatch()
        mp.setenv("REST_TOKEN", "rahasia")
        hub, client = await start_hub(tmp)
        try:
            yield World(server, url, hub, client, people)
        finally:
            mp.undo()
            await client.aclose()
            await hub.close()
            server.stop.set()  # release a hanging request so the server stops at once


@pytest.fixture(autouse=True)
def fresh_counts(world: World) -> None:
    world.server.reset()


@pytest.mark.parametrize("ds", list(WORKING))
async def test_every_pagination_style_returns_every_record_typed(world: World, ds: str) -> None:
    records = await world.live(ds).records(f"dukcapil.{ds}", {})
    assert records == world.expected()
    assert sum(world.server.requests.values()) == REQUESTS_FOR_ALL[ds]
    assert sum(world.server.served.values()) == len(world.people)


WHERES: list[Filter | None] = [
    None,
    Cmp("kecamatan", "eq", "Meral"),
    And((Cmp("kecamatan", "eq", "Moro"), Cmp("anak", "gte", 2))),
    Or((Cmp("anak", "isNull", True), Cmp("tinggi", "gt", 180.0))),
    Not(Cmp("kecamatan", "in", ("Moro", "Tebing"))),
    And((Cmp("nama", "like", "%an%"), Cmp("saldo", "gte", Decimal("20000")))),
    And((Cmp("status_hidup", "eq", False), Cmp("tanggal_lahir", "lt", dt.date(1980, 1, 1)))),
    Cmp("kecamatan", "neq", "Meral"),
]
ORDERS = [
    (),
    (Order("tanggal_lahir", True),),
    (Order("kecamatan"), Order("saldo", True)),
    (Order("status_hidup"),),
]


@pytest.mark.parametrize("ds", ["lewat_halaman", "lewat_tautan", "bersarang", "semua"])
async def test_answers_equal_the_sql_adapter_on_the_same_rows(world: World, ds: str) -> None:
    sql, rest, name = world.live("penduduk"), world.live(ds), f"dukcapil.{ds}"
    for i, where in enumerate(WHERES):
        order = (*ORDERS[i % len(ORDERS)], Order("nik"))
        q = PageQuery("dukcapil.penduduk", FIELDS, where, order, None, 1000)
        expected = await sql.fetch(q)
        assert await rest.fetch(PageQuery(name, FIELDS, where, order, None, 1000)) == expected, where
        assert await rest.count(name, where) == await sql.count("dukcapil.penduduk", where)
        if len(expected) > 5:
            after = tuple(expected[2][FIELDS.index(o.field)] for o in order)
            page = await rest.fetch(PageQuery(name, FIELDS, where, order, after, 3))
            assert page == expected[3:6]
        measures: tuple[tuple[Measure, str], ...] = (
            ("sum", "anak"), ("min", "tanggal_lahir"), ("max", "nama"), ("avg", "tinggi"))  # fmt: skip
        for group_by in [(), ("kecamatan",), ("status_hidup", "anak")]:
            got = await rest.aggregate(AggregateQuery(name, group_by, where, measures))
            want = await sql.aggregate(AggregateQuery("dukcapil.penduduk", group_by, where, measures))
            assert [r[:-1] for r in got] == [r[:-1] for r in want]
            assert [r[-1] for r in got] == pytest.approx([r[-1] for r in want])
    niks = [p["nik"] for p in world.people[::9]] + ["nope"]
    for values in (niks, niks[:1], ["nope"]):
        want = await sql.lookup("dukcapil.penduduk", "nik", values, FIELDS)
        assert await rest.lookup(name, "nik", values, FIELDS) == want
    assert await rest.lookup(name, "kecamatan", ["Meral", "Kundur"], ("nik",)) == await sql.lookup(
        "dukcapil.penduduk", "kecamatan", ["Meral", "Kundur"], ("nik",)
    )


GQL = """query($where: DukcapilPendudukWhere, $orderBy: [DukcapilPendudukOrderBy!], $after: String,
               $aggWhere: DukcapilPendudukAggregateWhere) {
  dukcapil { penduduk(where: $where, orderBy: $orderBy, first: 13, after: $after) {
    totalCount nodes { nik nama kecamatan tanggalLahir statusHidup tinggi saldo anak }
    pageInfo { hasNextPage endCursor } }
  pendudukAggregate(groupBy: [kecamatan], where: $aggWhere) {
    group { kecamatan } count sum { anak } min { tanggalLahir } max { nama saldo } } } }"""


async def test_graphql_answers_equal_sql_through_the_hub(world: World) -> None:
    args = {"where": {"kecamatan": {"in": ["Meral", "Moro"]}, "anak": {"gte": 1}},
            "orderBy": [{"tinggi": "DESC"}]}  # fmt: skip
    cursors: dict[str, str | None] = {"penduduk": None, "bersarang": None}
    for _ in range(3):
        answers = {}
        for ds in cursors:
            q = GQL.replace("DukcapilPenduduk", f"Dukcapil{ds.capitalize()}").replace("penduduk", ds)
            variables = {**args, "aggWhere": args["where"], "after": cursors[ds]}
            body = (await world.gql(q, variables)).json()
            assert "errors" not in body, body
            answers[ds] = body["data"]["dukcapil"]
            cursors[ds] = answers[ds][ds]["pageInfo"]["endCursor"]
        sql, rest = answers["penduduk"], answers["bersarang"]
        mine, theirs = rest["bersarang"], sql["penduduk"]
        assert mine["nodes"] and mine["nodes"] == theirs["nodes"]
        assert mine["totalCount"] == theirs["totalCount"]
        assert mine["pageInfo"]["hasNextPage"] == theirs["pageInfo"]["hasNextPage"]
        assert rest["bersarangAggregate"] == sql["pendudukAggregate"]


async def test_equality_filters_are_pushed_down_to_the_api(world: World) -> None:
    meral = [p for p in world.people if p["kecamatan"] == "Meral"]
    where = And((Cmp("kecamatan", "eq", "Meral"), Cmp("anak", "gte", 1)))
    for ds, path in [
        ("lewat_halaman", "/flat/page"),
        ("lewat_tautan", "/flat/next"),
        ("bersarang", "/nested/page"),
    ]:
        world.server.reset()
        n = await world.live(ds).count(f"dukcapil.{ds}", where)
        assert n == sum(1 for p in meral if (p["anak"] or 0) >= 1)
        assert world.server.served[path] == len(meral) < len(world.people) // 3
    world.server.reset()  # a dataset without `params` gets everything and filters here
    assert await world.live("semua").count("dukcapil.semua", where) == n
    assert world.server.served["/flat/all"] == len(world.people)

    world.server.reset()  # a single-key lookup asks for that record alone
    nik = world.people[42]["nik"]
    rows = await world.live("lewat_halaman").lookup("dukcapil.lewat_halaman", "nik", [nik], ("nik", "nama"))
    assert rows == [(nik, world.people[42]["nama"])]
    assert world.server.served["/flat/page"] == 1 and world.server.requests["/flat/page"] == 1


async def test_a_page_and_its_total_cost_the_api_one_listing(world: World) -> None:
    meral = [p for p in world.people if p["kecamatan"] == "Meral"]
    q = """{ dukcapil { lewatHalaman(where: {kecamatan: {eq: "Meral"}}, first: 5) {
        totalCount nodes { nik } } } }"""
    body = (await world.gql(q)).json()
    assert "errors" not in body, body
    answer = body["data"]["dukcapil"]["lewatHalaman"]
    assert answer["totalCount"] == len(meral) and len(answer["nodes"]) == 5
    assert world.server.served["/flat/page"] == len(meral)  # once, not once for the page and again to count

    # Identical listings in flight together share one; different ones do not.
    world.server.reset()
    adapter = world.live("lewat_halaman")
    where = Cmp("kecamatan", "eq", "Meral")
    counts = await asyncio.gather(
        *(adapter.count("dukcapil.lewat_halaman", where) for _ in range(3)),
        adapter.count("dukcapil.lewat_halaman", Cmp("kecamatan", "eq", "Moro")),
    )
    moro = sum(p["kecamatan"] == "Moro" for p in world.people)
    assert counts == [len(meral)] * 3 + [moro]
    assert world.server.served["/flat/page"] == len(meral) + moro
    assert not adapter._in_flight  # nothing kept once done

    # Later listings fetch afresh.
    assert await adapter.count("dukcapil.lewat_halaman", where) == len(meral)
    assert world.server.served["/flat/page"] == 2 * len(meral) + moro


async def test_a_waiter_that_gives_up_leaves_the_listing_to_the_others(world: World) -> None:
    adapter = world.live("lewat_halaman")
    where = Cmp("kecamatan", "eq", "Meral")
    impatient = asyncio.ensure_future(adapter.count("dukcapil.lewat_halaman", where))
    patient = asyncio.ensure_future(adapter.count("dukcapil.lewat_halaman", where))
    await asyncio.sleep(0)  # both are waiting on the one listing
    impatient.cancel()
    assert await patient == sum(p["kecamatan"] == "Meral" for p in world.people)
    assert impatient.cancelled()


async def test_row_budget_stops_collecting_early(world: World) -> None:
    adapter = world.adapter("lewat_halaman", max_rows=100)
    try:
        with pytest.raises(RowBudgetExceeded, match="more than 100 records"):
            await adapter.count("dukcapil.lewat_halaman", None)
        assert world.server.requests["/flat/page"] == 5  # 125 records seen, no further pages
        assert await adapter.count("dukcapil.lewat_halaman", Cmp("kecamatan", "eq", "Tebing")) > 0
    finally:
        await adapter.close()
    exact = world.adapter("lewat_halaman", max_rows=400)
    assert await exact.count("dukcapil.lewat_halaman", None) == 400  # the budget itself is fine
    await exact.close()

    # Through the hub: too many rows is QUERY_TOO_COMPLEX, a pushed-down filter fits the budget.
    body = (await world.gql("{ dukcapil { besar { totalCount } } }")).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    q = '{ dukcapil { besar(where: {kecamatan: {eq: "Meral"}}) { totalCount } } }'
    body = (await world.gql(q)).json()
    assert body["data"]["dukcapil"]["besar"]["totalCount"] == sum(
        p["kecamatan"] == "Meral" for p in world.people
    )


async def test_transient_failures_are_retried_and_others_are_not(world: World) -> None:
    flaky = world.live("rusak_flaky")
    assert len(await flaky.records("dukcapil.rusak_flaky", {})) == 3
    assert world.server.requests["/broken/flaky"] == 3  # 503, 503, 200

    world.server.reset()
    impatient = world.adapter("rusak_flaky", retries=1)
    with pytest.raises(SourceError, match="HTTP 503"):
        await impatient.records("dukcapil.rusak_flaky", {})
    await impatient.close()
    assert world.server.requests["/broken/flaky"] == 2

    for what, path in [("missing", "/broken/missing"), ("status", "/broken/status")]:
        with pytest.raises(SourceError, match=BROKEN[what][2]):
            await world.live(f"rusak_{what}").records(f"dukcapil.rusak_{what}", {})
        assert world.server.requests[path] == 1  # 404 and 500 are not retried


@pytest.mark.parametrize("what", [w for w in BROKEN if w not in ("flaky", "hang")])
async def test_a_misbehaving_api_is_a_source_error_with_the_reason(world: World, what: str) -> None:
    with pytest.raises(SourceError) as caught:
        await world.live(f"rusak_{what}").records(f"dukcapil.rusak_{what}", {})
    message = str(caught.value)
    assert BROKEN[what][2] in message and f"dukcapil.rusak_{what}" in message
    assert "secret" not in message and "127.0.0.1" not in message and "rahasia" not in message
    assert world.server.requests[f"/broken/{what}"] <= 2  # a loop is caught on its second page


async def test_a_hanging_api_times_out_by_itself(world: World) -> None:
    adapter = world.adapter("rusak_hang", timeout=0.3, retries=1)
    started = time.monotonic()
    with pytest.raises(SourceError, match="ReadTimeout"):
        await adapter.records("dukcapil.rusak_hang", {})
    assert time.monotonic() - started < 0.3 * 2 + 0.1 + 0.5
    assert world.server.requests["/broken/hang"] == 2
    await adapter.close()


async def test_connection_refused_and_health(world: World) -> None:
    gone = world.adapter("semua", url=f"http://user:pw@127.0.0.1:{closed_port()}/api")
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        await gone.records("dukcapil.semua", {})
    assert "ConnectError" in str(caught.value) and "pw" not in str(caught.value)
    assert time.monotonic() - started < 2
    with pytest.raises(SourceError, match="health: ConnectError"):
        await gone.health()
    await gone.close()

    await world.live("semua").health()
    for path, alive in [("/nowhere", True), ("/broken/missing", True), ("/broken/status", False)]:
        adapter = world.adapter("semua", url=world.url + path)
        if alive:
            await adapter.health()
        else:
            with pytest.raises(SourceError, match="HTTP 500"):
                await adapter.health()
        await adapter.close()
    ready = (await world.client.get("/readyz")).json()
    assert ready["sources"]["dukcapil.api"]["state"] == "ok"


@pytest.mark.parametrize(
    ("what", "code", "reason"),
    [
        ("status", "SOURCE_UNAVAILABLE", "HTTP 500"),
        ("json", "SOURCE_UNAVAILABLE", "not valid JSON"),
        ("html", "SOURCE_UNAVAILABLE", "text/html"),
        ("badvalue", "SOURCE_UNAVAILABLE", "field 'anak'"),
        ("hang", "SOURCE_TIMEOUT", "timed out after 1.0s"),
    ],
)
async def test_through_the_hub_only_the_broken_field_fails(
    world: World, caplog: pytest.LogCaptureFixture, what: str, code: str, reason: str
) -> None:
    field = f"rusak{what.capitalize()}"
    query = f"{{ dukcapil {{ penduduk(first: 2) {{ nodes {{ nik }} }} {field}(first: 2) {{ nodes {{ nik anak }} }} }} }}"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="hub.sources"):
        r = await world.gql(query)
    elapsed = time.monotonic() - started
    assert r.status_code == 200
    body = r.json()
    assert len(body["data"]["dukcapil"]["penduduk"]["nodes"]) == 2
    assert body["data"]["dukcapil"][field] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code and error["path"] == ["dukcapil", field]
    assert reason in caplog.text and "dukcapil.rusak" in caplog.text
    assert reason not in r.text and "secret" not in r.text and "/broken" not in r.text
    assert "secret" not in caplog.text
    assert elapsed < 1 + 1  # the source's timeout + 1 s


@pytest.mark.parametrize(
    ("type_", "raw", "value"),
    [
        ("string", "x", "x"),
        ("string", 2102, "2102"),
        ("integer", 3, 3),
        ("integer", 3.0, 3),
        ("integer", "17", 17),
        ("float", 1, 1.0),
        ("float", "1.5", 1.5),
        ("decimal", "12500.50", Decimal("12500.50")),
        ("decimal", 0.1, Decimal("0.1")),
        ("decimal", 7, Decimal(7)),
        ("boolean", True, True),
        ("boolean", "false", False),
        ("boolean", 1, True),
        ("boolean", 0, False),
        ("date", "2024-01-31", dt.date(2024, 1, 31)),
        ("datetime", "2024-01-31T08:00:00", dt.datetime(2024, 1, 31, 8)),
        (
            "datetime",
            "2024-01-31T08:00:00+07:00",
            dt.datetime(2024, 1, 31, 8, tzinfo=dt.timezone(dt.timedelta(hours=7))),
        ),
    ],
)
def test_values_are_converted_to_the_catalog_type(type_: str, raw: Any, value: Any) -> None:
    got = CONVERT[type_](raw)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("type_", "raw"),
    [("string", True), ("string", {"a": 1}), ("integer", True), ("integer", 1.5), ("integer", "x"),
     ("float", "x"), ("float", False), ("decimal", "NaN"), ("decimal", "x"), ("decimal", True),
     ("boolean", 2), ("boolean", "yes"), ("date", 20240131), ("date", "2024-01-31T08:00"),
     ("datetime", "yesterday")],
)  # fmt: skip
def test_values_that_do_not_fit_the_type_are_refused(type_: str, raw: Any) -> None:
    with pytest.raises((ValueError, ArithmeticError)):
        CONVERT[type_](raw)


def test_bad_dataset_options_fail_at_start(world: World) -> None:
    d = world.hub.catalog.dataset("dukcapil.lewat_tautan")
    b = binding(d)
    broken = type(b)(
        b.name, b.key, b.types, b.columns, b.table, {**b.options, "pagination": {"style": "next"}}
    )
    with pytest.raises(ValueError, match="needs `next`"):
        RestAdapter("api", {"url": world.url}, [broken])
    unknown = type(b)(b.name, b.key, b.types, b.columns, b.table, {**b.options, "params": {"umur": "umur"}})
    with pytest.raises(ValueError, match="unknown fields: umur"):
        RestAdapter("api", {"url": world.url}, [unknown])
    with pytest.raises(ValueError, match="needs `url`"):
        RestAdapter("api", {}, [b])
