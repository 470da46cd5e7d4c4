"""Only a source's own trouble counts against it: a caller's question can be refused,
but it never reaches a source in a form the source must reject, and a statement a
source does reject is the hub's error (INTERNAL), or the caller's when the source refused
a value it carried (BAD_USER_INPUT); either leaves the breaker closed.

Each test repeats its request more times than the breaker's threshold (5), then
checks that every breaker is closed and /readyz still says ok."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.base import Cmp, Order, PageQuery, QueryRejected
from tests.support.catalogs import write_catalog
from tests.support.databases import ScratchDatabase
from tests.support.regency import PENDUDUK, PENERIMA, Regency, load, load_regency, make_rows, start_hub

TIMES = 6  # one more than the breaker's default threshold


def breakers_closed(regency: Regency) -> None:
    for source in regency.hub.sources.by_id.values():
        assert source.breaker.failures == 0, source.id
        assert source.breaker.opened_at is None, source.id


async def ready(regency: Regency) -> None:
    r = await regency.client.get("/readyz")
    assert r.status_code == 200, r.text


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest.mark.parametrize(
    "query",
    [
        "{ dukcapil { penduduk(first: 7) { nodes { __typename } } } }",
        "{ dukcapil { penduduk(first: 7) { nodes { t: __typename } totalCount } } }",
        "{ dukcapil { penduduk(first: 7) { pageInfo { hasNextPage } } } }",
        # every column skipped by a directive (found by fuzzing): the same empty selection
        "{ dukcapil { penduduk(first: 7) { nodes { __typename nik @skip(if: true) } } } }",
        "{ dukcapil { penduduk(first: 7) { nodes { __typename ... @include(if: false) { nama } } } } }",
    ],
)
async def test_a_selection_without_columns_counts_its_nodes(regency: Regency, query: str) -> None:
    for _ in range(TIMES):
        body = await regency.gql(query)
        assert "errors" not in body, body
        page = body["data"]["dukcapil"]["penduduk"]
        if "nodes" in page:
            assert len(page["nodes"]) == 7
            assert {next(iter(n.values())) for n in page["nodes"]} == {"DukcapilPenduduk"}
        else:
            assert page["pageInfo"]["hasNextPage"] is True
    breakers_closed(regency)
    await ready(regency)


async def test_a_relationship_without_columns_gives_its_rows(regency: Regency) -> None:
    query = '{ dukcapil { penduduk(first: 50, where: {kecamatan: {eq: "Meral"}}) { nodes { nik penerimaBansos { __typename } } } } }'
    for _ in range(TIMES):
        nodes = (await regency.data(query))["dukcapil"]["penduduk"]["nodes"]
        for n in nodes:
            want = sum(1 for r in regency.recipients if r["nik"] == n["nik"])
            assert n["penerimaBansos"] == [{"__typename": "DinsosPenerimaBansos"}] * want
        assert any(n["penerimaBansos"] for n in nodes)
    breakers_closed(regency)


def big_or(n: int) -> str:
    return "{or: [" + ", ".join(f"{{tahun: {{eq: {2000 + i}}}}}" for i in range(n)) + "]}"


AGGREGATE = "query($w: DinsosPenerimaBansosAggregateWhere) { dinsos { penerimaBansosAggregate(where: $w, groupBy: [program]) { count } } }"
READ = (
    "query($w: DukcapilPendudukWhere) { dukcapil { penduduk(where: $w, first: 3) { nodes { kecamatan } } } }"
)


@pytest.mark.parametrize(
    ("query", "where", "limit"),
    [
        (AGGREGATE, {"or": [{"tahun": {"eq": 2000 + i}} for i in range(1200)]}, "HUB_MAX_FILTER_TERMS"),
        (AGGREGATE, {"tahun": {"in": [1] * 260_000}}, "HUB_MAX_IN_VALUES"),
        (
            AGGREGATE,
            {"tahun": {"in": list(range(600))}, "id": {"nin": list(range(600))}},
            "HUB_MAX_IN_VALUES",
        ),
        (READ, {"or": [{"nama": {"like": "%a%e%i%o%u%zq"}} for _ in range(100)]}, "HUB_MAX_LIKE_TERMS"),
        (READ, {"nama": {"like": "%" + "a%" * 150}}, None),
        (
            READ,
            {"not": {"not": {"not": {"not": {"nama": {"eq": "x"}}}}}}
            | {"and": [{"nama": {"eq": "x"}}] * 199},
            "HUB_MAX_FILTER_TERMS",
        ),
    ],
    ids=["or-1200", "in-260000", "in-nin-1200", "like-100", "like-long", "terms-deep"],
)
async def test_a_filter_too_big_is_refused_before_the_source(
    regency: Regency, query: str, where: dict[str, Any], limit: str | None
) -> None:
    dataset = "dinsos.penerima_bansos" if query is AGGREGATE else "dukcapil.penduduk"
    statements = regency.count_statements(dataset)
    for _ in range(TIMES):
        r = await regency.client.post("/graphql", json={"query": query, "variables": {"w": where}})
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
        assert error["extensions"].get("limit") == limit
        assert "limit is" in error["message"]
    assert sum(statements.values()) == 0
    breakers_closed(regency)
    await ready(regency)


async def test_filters_within_the_limits_still_answer(regency: Regency) -> None:
    where = {"or": [{"tahun": {"eq": 2000 + i}} for i in range(190)], "id": {"in": list(range(1, 1001))}}
    body = await regency.gql(AGGREGATE, {"w": where})
    assert "errors" not in body, body
    want = sum(1 for r in regency.recipients if r["id"] <= 1000)
    assert sum(g["count"] or 0 for g in body["data"]["dinsos"]["penerimaBansosAggregate"]) <= want


async def test_a_statement_the_source_refuses_is_internal_and_the_breaker_stays_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Limits raised past what SQLite takes (an operator's choice): the source refuses the
    statement; the caller gets INTERNAL with a request id, the log a short line under that
    id, and the source stays available to everyone."""
    await load_regency(tmp_path, *make_rows(50))
    hub, client = await start_hub(tmp_path, max_filter_terms=100_000, max_in_values=1_000_000)
    query = AGGREGATE.replace("{ dinsos", "{ dukcapil { penduduk(first: 1) { nodes { nik } } } dinsos")
    try:
        for where in (
            {"or": [{"tahun": {"eq": 2000 + i}} for i in range(1200)]},  # expression tree too large
            # too many SQL variables: lists of at most 500 values each (a longer one goes to
            # SQLite as one JSON text, adapters/sql_pg.py), 264,500 values in all
            {"or": [{"tahun": {"in": [1] * 500}} for _ in range(529)]},
        ):
            for _ in range(TIMES):
                caplog.clear()
                with caplog.at_level(logging.INFO):
                    r = await client.post("/graphql", json={"query": query, "variables": {"w": where}})
                assert r.status_code == 200
                body = r.json()
                assert codes(body) == ["INTERNAL"], body
                (error,) = body["errors"]
                assert error["path"] == ["dinsos", "penerimaBansosAggregate"]
                assert "SELECT" not in r.text and "sqlite" not in r.text.lower()
                assert body["data"]["dukcapil"]["penduduk"]["nodes"]  # the rest of the answer stands
                request_id = error["extensions"]["requestId"]
                lines = [rec.getMessage() for rec in caplog.records if request_id in rec.getMessage()]
                assert len(lines) == 1, caplog.text[:2000]
                assert "OperationalError" in lines[0]
                assert len(caplog.text) < 3000, len(caplog.text)  # not the statement's 1,200 terms
            for source in hub.sources.by_id.values():
                assert source.breaker.failures == 0 and source.breaker.opened_at is None, source.id
        assert (await client.get("/readyz")).status_code == 200
        metrics = (await client.get("/metrics")).text.splitlines()
        (rejected,) = [m for m in metrics if m.startswith("hub_source_requests_total") and "rejected" in m]
        assert 'source="dinsos.main"' in rejected and rejected.endswith(" 12.0"), rejected
    finally:
        await client.aclose()
        await hub.close()


async def test_an_integer_beyond_64_bits_is_refused_as_the_hubs_error_or_matches_nothing(
    regency: Regency,
) -> None:
    """The GraphQL layer keeps such integers out; an adapter handed one anyway does not
    report its source as failing (MariaDB compares it exactly and finds nothing)."""
    adapter = regency.hub.sources.of_dataset["dinsos.penerima_bansos"].adapter
    query = PageQuery("dinsos.penerima_bansos", ("id",), Cmp("nominal", "eq", 2**70), (Order("id"),))
    if regency.kind == "mariadb":
        assert await adapter.fetch(query) == []
    else:
        with pytest.raises(QueryRejected):
            await adapter.fetch(query)


async def test_a_value_the_source_cannot_hold_is_bad_user_input_and_the_breaker_stays_closed(
    regency: Regency,
) -> None:
    """PostgreSQL's text cannot hold the NUL character, so it refuses a statement that
    carries one (found by the soak's fuzzer): the caller's input, BAD_USER_INPUT, not the
    hub's INTERNAL. SQLite and MariaDB hold it, and find nobody."""
    query = "query($n: String) { dukcapil { penduduk(where: {nama: {eq: $n}}) { nodes { nik } } } }"
    for name in ("Siti\u0000Aminah", "\u0000"):
        for _ in range(TIMES):
            body = await regency.gql(query, {"n": name.encode().decode("unicode_escape")})
            if regency.kind == "postgresql":
                assert codes(body) == ["BAD_USER_INPUT"], body
                assert body["data"]["dukcapil"]["penduduk"] is None
            else:
                assert "errors" not in body and body["data"]["dukcapil"]["penduduk"]["nodes"] == [], body
    breakers_closed(regency)
    await ready(regency)


async def test_like_comparisons_are_counted_over_the_whole_request(regency: Regency) -> None:
    """A `like` scans; aliases repeating one `where` would multiply it. The public demo's
    source timed out and its breaker opened on one request of 100 aliases of 10 likes each."""
    fields = " ".join(f"a{i}: penduduk(where: $w, first: 1) {{ nodes {{ kecamatan }} }}" for i in range(12))
    query = f"query($w: DukcapilPendudukWhere) {{ dukcapil {{ {fields} }} }}"
    statements = regency.count_statements("dukcapil.penduduk")
    body = await regency.gql(query, {"w": {"nama": {"like": "%a%"}}})
    refused = {e["path"][-1] for e in body["errors"]}
    assert refused == {"a10", "a11"}, body["errors"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"QUERY_TOO_COMPLEX"}
    assert all(body["data"]["dukcapil"][f"a{i}"]["nodes"] for i in range(10))
    assert statements["SELECT"] == 10


async def test_one_request_runs_at_most_its_lanes_width_on_a_source_at_once(tmp_path: Path) -> None:
    """A request's aliases queue in the hub, not on the source (HUB_SOURCE_CALLS_PER_REQUEST);
    the same request on a hub with wide lanes shows the queueing is what holds them back.
    Each statement takes ~30 ms (the table is a view that pauses per row), so statements
    started together overlap at the source."""
    a = await ScratchDatabase("sqlite", tmp_path).create()
    b = await ScratchDatabase("sqlite", tmp_path).create()
    people, recipients = make_rows(3)
    await load(a.url, PENDUDUK.to_metadata(sa.MetaData(), name="penduduk_rows"), people)
    await load(b.url, PENERIMA, recipients)
    slow = create_async_engine(a.url)
    async with slow.begin() as conn:
        await conn.execute(
            sa.text("CREATE VIEW penduduk AS SELECT * FROM penduduk_rows WHERE pause() IS NULL")
        )
    await slow.dispose()
    write_catalog(tmp_path / "schema", a.url, b.url)
    fields = " ".join(f"a{i}: pendudukAggregate(groupBy: [kecamatan]) {{ count }}" for i in range(24))

    def pause() -> None:
        time.sleep(0.01)  # in SQLite's thread, per row: ~30 ms a statement, no CPU

    peaks = []
    for width in (4, 100):
        hub, client = await start_hub(tmp_path, source_calls_per_request=width)
        running, peak = 0, 0

        def before(*_: Any) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)

        def after(*_: Any) -> None:
            nonlocal running
            running -= 1

        engine = hub.sources.of_dataset["dukcapil.penduduk"].adapter.engine  # type: ignore[attr-defined]
        sa.event.listen(engine.sync_engine, "connect", lambda c, _: c.create_function("pause", 0, pause))
        await engine.dispose()  # the connections made at start-up lack the function
        sa.event.listen(engine.sync_engine, "before_cursor_execute", before)
        sa.event.listen(engine.sync_engine, "after_cursor_execute", after)
        try:
            body = (await client.post("/graphql", json={"query": f"{{ dukcapil {{ {fields} }} }}"})).json()
            assert "errors" not in body, body
            assert len(body["data"]["dukcapil"]) == 24
            peaks.append(peak)
        finally:
            await client.aclose()
            await hub.close()
    assert peaks[0] <= 4, peaks
    assert peaks[1] > 4, peaks  # without the lanes the same request piles onto the source
