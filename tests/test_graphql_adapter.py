"""Hub-to-hub: a dataset served by another hub answers exactly as that hub does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hub.http.app import create_app
from hub.store import clients
from tests.support.catalogs import opd_file, penduduk, write_opd
from tests.support.regency import (
    EVERYTHING,
    Regency,
    client_for,
    http_client,
    start_hub,
    start_regency,
    write_policies,
)
from tests.support.servers import serve

FIELDS = "nik nama kecamatan tanggalLahir statusHidup tinggi saldo anak"
TETANGGA = {"id": "tetangga", "name": "Hub Kabupaten Tetangga"}


def write_local(schema: Path, url: str) -> None:
    """Another hub's Dukcapil residents, as this hub's `tetangga.penduduk`."""
    remote = {
        "adapter": "graphql",
        "url": f"{url}/graphql",
        "headers": {"Authorization": "Bearer ${REMOTE_HUB_KEY}"},
        "timeout": 5,
    }
    # the remote hub serves status_hidup by that name; nothing to join it to here
    residents = penduduk(
        "remote", path="dukcapil.penduduk", fields={"status_hidup": {"column": None}}, relationships={}
    )
    write_opd(schema, opd_file(TETANGGA, {"remote": remote}, {"penduduk": residents}))


class Pair:
    def __init__(self, remote: Regency, local: httpx.AsyncClient, url: str) -> None:
        self.remote, self.local, self.url = remote, local, url

    async def both(self, query: str, variables: dict[str, Any] | None = None) -> tuple[Any, Any]:
        direct = await self.remote.data(query.replace("NS", "dukcapil"), variables)
        r = await self.local.post(
            "/graphql", json={"query": query.replace("NS", "tetangga"), "variables": variables}
        )
        body = r.json()
        assert "errors" not in body, body
        return direct["dukcapil"], body["data"]["tetangga"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pair(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: Any) -> AsyncIterator[Pair]:
    remote = await start_regency("sqlite", tmp_path_factory.mktemp("remote"))
    key = remote.client.headers["Authorization"].removeprefix("Bearer ")
    async with serve(create_app(hub=remote.hub)) as url:
        tmp = tmp_path_factory.mktemp("local")
        write_local(tmp / "schema", url)
        monkeypatch_module.setenv("REMOTE_HUB_KEY", key)
        hub, client = await start_hub(tmp)
        yield Pair(remote, client, url)
        await client.aclose()
        await hub.close()
    await remote.close()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


QUERIES = [
    ({"where": {"kecamatan": {"eq": "Meral"}}, "orderBy": [{"tanggalLahir": "DESC"}]}),
    ({"where": {"or": [{"anak": {"isNull": True}}, {"tinggi": {"gt": 180}}]}, "orderBy": [{"nama": "ASC"}]}),
    ({"where": {"not": {"kecamatan": {"in": ["Moro", "Tebing"]}}}, "orderBy": [{"saldo": "DESC"}]}),
    ({"where": {"nama": {"like": "%an%"}}, "orderBy": []}),
]
PAGE = f"""query($where: NSPendudukWhere, $orderBy: [NSPendudukOrderBy!], $after: String) {{
  NS {{ penduduk(where: $where, orderBy: $orderBy, first: 9, after: $after) {{
    totalCount nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"""


@pytest.mark.parametrize("args", QUERIES, ids=range(len(QUERIES)))
async def test_every_page_equals_the_remote_hub(pair: Pair, args: dict[str, Any]) -> None:
    after_local = after_remote = None
    pages = 0
    while True:
        q = PAGE.replace("NSPenduduk", "{T}Penduduk")
        direct = await pair.remote.data(
            q.replace("{T}", "Dukcapil").replace("NS", "dukcapil"), {**args, "after": after_remote}
        )
        r = await pair.local.post("/graphql", json={"query": q.replace("{T}", "Tetangga").replace("NS", "tetangga"),
                                                    "variables": {**args, "after": after_local}})  # fmt: skip
        body = r.json()
        assert "errors" not in body, body
        mine, theirs = body["data"]["tetangga"]["penduduk"], direct["dukcapil"]["penduduk"]
        assert mine["nodes"] == theirs["nodes"]
        assert mine["totalCount"] == theirs["totalCount"]
        assert mine["pageInfo"]["hasNextPage"] == theirs["pageInfo"]["hasNextPage"]
        pages += 1
        if not mine["pageInfo"]["hasNextPage"]:
            break
        after_local, after_remote = mine["pageInfo"]["endCursor"], theirs["pageInfo"]["endCursor"]
    assert pages >= 2


async def test_aggregates_and_lookups_equal_the_remote_hub(pair: Pair) -> None:
    q = """{ NS { pendudukAggregate(groupBy: [kecamatan], where: {anak: {gte: 1}}) {
        group { kecamatan } count sum { anak } min { tanggalLahir } max { nama } } } }"""
    direct, mine = await pair.both(q)
    assert mine["pendudukAggregate"] == direct["pendudukAggregate"]
    niks = [p["nik"] for p in pair.remote.people[:30]]
    q2 = "query($n: [String!]) { NS { penduduk(where: {nik: {in: $n}}, first: 50) { nodes { nik nama anak } } } }"
    direct, mine = await pair.both(q2, {"n": niks})
    assert mine == direct and len(mine["penduduk"]["nodes"]) == 30


async def test_remote_refusal_is_source_unavailable(
    pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key the remote does not know: the remote says UNAUTHENTICATED, here the source fails."""
    write_local(tmp_path / "schema", pair.url)
    monkeypatch.setenv("REMOTE_HUB_KEY", "hub_0000000000000000_" + "x" * 43)
    hub, client = await start_hub(tmp_path)
    try:
        r = await client.post(
            "/graphql", json={"query": "{ tetangga { penduduk(first: 1) { nodes { nik } } } }"}
        )
        body = r.json()
        assert r.status_code == 200
        assert body["data"]["tetangga"]["penduduk"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["SOURCE_UNAVAILABLE"]
    finally:
        await client.aclose()
        await hub.close()


COUNTS = "{ NS { pendudukAggregate(groupBy: [kecamatan]) { group { kecamatan } count perturbed } } }"


async def test_a_remote_hubs_perturbed_aggregate_passes_through_and_an_exact_one_is_not_perturbed_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub has no cell keys of a remote hub's records. What the remote perturbed for
    this hub passes through as published, to every caller; what the remote answers this
    hub exactly goes only to a caller who may read every field used (FORBIDDEN else)."""
    write_policies(
        tmp_path / "remote" / "policies",
        EVERYTHING + "p, user:agg, dukcapil.penduduk.kecamatan, aggregate, allow\n",
    )
    remote = await start_regency("sqlite", tmp_path / "remote")
    keys = {
        "exact": remote.client.headers["Authorization"].removeprefix("Bearer "),
        "perturbed": (await clients.create(remote.hub.store, "user:agg")).key,
    }
    direct = http_client(remote.hub, keys["perturbed"])
    try:
        async with serve(create_app(hub=remote.hub)) as url:
            r = await direct.post("/graphql", json={"query": COUNTS.replace("NS", "dukcapil")})
            published = r.json()["data"]["dukcapil"]["pendudukAggregate"]
            assert published and all(g["perturbed"] for g in published)
            for how, key in keys.items():
                local = tmp_path / how
                write_local(local / "schema", url)
                write_policies(
                    local / "policies",
                    EVERYTHING + "p, user:counter, tetangga.penduduk.kecamatan, aggregate, allow\n",
                )
                monkeypatch.setenv("REMOTE_HUB_KEY", key)
                hub, tester = await start_hub(local)
                counter = await client_for(hub, "user:counter")
                try:
                    query = {"query": COUNTS.replace("NS", "tetangga")}
                    mine, theirs = (
                        (await tester.post("/graphql", json=query)).json(),
                        (await counter.post("/graphql", json=query)).json(),
                    )
                    if how == "perturbed":
                        assert mine["data"]["tetangga"]["pendudukAggregate"] == published
                        assert theirs["data"]["tetangga"]["pendudukAggregate"] == published
                    else:
                        exact = mine["data"]["tetangga"]["pendudukAggregate"]
                        assert exact != published and not any(g["perturbed"] for g in exact)
                        assert theirs["data"]["tetangga"]["pendudukAggregate"] is None
                        assert [e["extensions"]["code"] for e in theirs["errors"]] == ["FORBIDDEN"]
                        assert "cannot be perturbed here" in theirs["errors"][0]["message"]
                finally:
                    for c in (tester, counter):
                        await c.aclose()
                    await hub.close()
    finally:
        await direct.aclose()
        await remote.close()
