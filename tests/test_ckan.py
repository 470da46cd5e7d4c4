"""CKAN's action API (hub/http/ckan.py), read by `ckanapi` as a real client of a served hub
(`hub serve` on loopback): package_list is the open datasets; package_show of each gives
its title, organisation and resources, names no field the public may not see, and its
resources' URLs answer 200 from the hub; a dataset (or OPD) the public sees nothing of is
in no list or search and not found; package_search's pages cover every match once;
organization_list and organization_show; GET and POST on /api/3/action and /api/action;
CKAN's error shapes, which ckanapi turns into its exceptions; and once, the demo catalog."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import ckanapi
import httpx
import pytest
import pytest_asyncio

from hub.catalog import load_catalog
from hub.catalog.names import camel
from hub.demo.generate import generate
from hub.policy.decisions import Policy
from tests.support.catalogs import (
    DINSOS,
    DUKCAPIL,
    opd_file,
    penduduk,
    penerima_bansos,
    sql_source,
    write_opd,
)
from tests.support.databases import ScratchDatabase
from tests.support.hubcli import Running, hub_env, running_hub
from tests.support.regency import PENDUDUK, PENERIMA, load, make_rows, write_policies

REPO = Path(__file__).resolve().parents[1]  # on the served hub's PYTHONPATH: this checkout's code
PEOPLE, RECIPIENTS = make_rows(residents=60)
TABLES = [f"tabel_{i:02d}" for i in range(1, 13)]  # statistik's open tables, for paging searches
ABOUT = {"license": "CC-BY-4.0", "modified": "2026-11-30"}
HIDDEN = ("dukcapil-arsip", "inspektorat-temuan")
RULES = "\n".join(
    [
        "p, public, dukcapil.penduduk.kecamatan, read, allow",
        "p, public, dukcapil.penduduk.tanggal_lahir, read, allow",
        "p, public, dukcapil.penduduk.anak, read, allow",
        "p, public, dinsos.penerima_bansos.program, aggregate, allow",
        "p, public, dinsos.penerima_bansos.tahun, aggregate, allow",
        *(f"p, public, statistik.{t}.kecamatan, read, allow" for t in TABLES),
        "",
    ]
)
OPEN_FIELDS = {  # package name -> the fields the public may see of it
    "dukcapil-penduduk": {"kecamatan", "tanggal_lahir", "anak"},
    "dinsos-penerima_bansos": {"program", "tahun"},
    **{f"statistik-{t}": {"kecamatan"} for t in TABLES},
}
TITLES = {
    "dukcapil-penduduk": "Penduduk per Kecamatan",
    "dinsos-penerima_bansos": "Penerima Bantuan Sosial",
    **{
        f"statistik-{t}": f"Tabel {t[-2:]} Statistik {'Genap' if int(t[-2:]) % 2 == 0 else 'Ganjil'}"
        for t in TABLES
    },
}
ORGS = {"dinsos": DINSOS["name"], "dukcapil": DUKCAPIL["name"], "statistik": "Badan Pusat Statistik"}
ALL_FIELDS = {*(c.name for c in PENDUDUK.columns), *(c.name for c in PENERIMA.columns), "status_hidup"} - {
    "id"
}


def about(title: str, keywords: list[str]) -> dict[str, Any]:
    return {"title": title, "description": f"{title}. Synthetic data.", "keywords": keywords, **ABOUT}


@pytest_asyncio.fixture(scope="module")
async def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    tmp = tmp_path_factory.mktemp("ckan")
    people, recipients = (
        await ScratchDatabase("sqlite", tmp).create(),
        await ScratchDatabase("sqlite", tmp).create(),
    )
    await load(people.url, PENDUDUK, PEOPLE)
    await load(recipients.url, PENERIMA, RECIPIENTS)
    schema = tmp / "schema"
    residents = penduduk(relationships={}, **about(TITLES["dukcapil-penduduk"], ["kependudukan", "wilayah"]))
    archive = penduduk(relationships={}, table="penduduk", **about("Arsip Rahasia", ["rahasia"]))
    write_opd(
        schema,
        opd_file(DUKCAPIL, {"main": sql_source(people.url)}, {"penduduk": residents, "arsip": archive}),
    )
    aid = penerima_bansos(relationships={}, **about(TITLES["dinsos-penerima_bansos"], ["bansos", "PKH"]))
    write_opd(schema, opd_file(DINSOS, {"main": sql_source(recipients.url)}, {"penerima_bansos": aid}))
    tables = {
        t: penduduk(relationships={}, table="penduduk", **about(TITLES[f"statistik-{t}"], [f"seri {t[-2:]}"]))
        for t in TABLES
    }
    statistik = {"id": "statistik", "name": ORGS["statistik"]}
    write_opd(schema, opd_file(statistik, {"main": sql_source(people.url)}, tables))
    audit = {"id": "inspektorat", "name": "Inspektorat Daerah"}
    findings = penduduk(relationships={}, table="penduduk", **about("Temuan Pemeriksaan", ["temuan"]))
    write_opd(schema, opd_file(audit, {"main": sql_source(people.url)}, {"temuan": findings}))
    write_policies(tmp / "policies", RULES)
    yield tmp


@pytest.fixture(scope="module")
def served(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run_dir = tmp_path_factory.mktemp("ckan-serve")
    env = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{run_dir / 'hub.db'}", PYTHONPATH=str(REPO))
    schema, policies = str(catalog_dir / "schema"), str(catalog_dir / "policies")
    with running_hub(
        "serve",
        "--schema",
        schema,
        "--policies",
        policies,
        "--port",
        "0",
        cwd=run_dir,
        env=env,
        log=run_dir / "log",
    ) as run:
        yield run


class RemoteCKAN3(ckanapi.RemoteCKAN):  # type: ignore[misc]
    """ckanapi on /api/3/action/, the path CKAN documents (ckanapi's own is /api/action/)."""

    base_url = "api/3/action/"


@pytest.fixture
def ckan(served: Running) -> Iterator[ckanapi.RemoteCKAN]:
    with ckanapi.RemoteCKAN(served.base) as remote:
        yield remote


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield unquote(value.replace("+", " "))
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def field_names(package: dict[str, Any]) -> set[str]:
    """The catalog's field names (or their GraphQL names) anywhere in the package's values."""
    words = {w for s in strings(package) for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", s)}
    return {f for f in ALL_FIELDS if f in words or camel(f) in words}


def test_package_list_is_the_open_datasets(ckan: ckanapi.RemoteCKAN) -> None:
    names = ckan.action.package_list()
    assert names == sorted(OPEN_FIELDS)
    assert ckan.action.package_list(limit=3, offset=2) == names[2:5]
    assert ckan.action.package_list(offset=len(names)) == []


def test_package_show_of_every_dataset(ckan: ckanapi.RemoteCKAN, served: Running) -> None:
    for name in ckan.action.package_list():
        package = ckan.action.package_show(id=name)
        assert (package["name"], package["title"]) == (name, TITLES[name])
        opd = name.partition("-")[0]
        assert package["organization"]["name"] == opd and package["organization"]["title"] == ORGS[opd]
        assert package["owner_org"] == package["organization"]["id"]
        assert (package["state"], package["type"], package["private"]) == ("active", "dataset", False)
        assert package["license_id"] == "cc-by" and package["metadata_modified"].startswith("2026-11-30T")
        assert package["url"] == f"{served.base}/public/{opd}/{name.partition('-')[2]}"
        assert package["num_tags"] == len(package["tags"]) and package["num_resources"] == len(
            package["resources"]
        )
        assert ckan.action.package_show(id=package["id"]) == package  # by its id as well
        assert field_names(package) == OPEN_FIELDS[name]  # every open field, and no other
        check_resources(package, OPEN_FIELDS[name])


def check_resources(package: dict[str, Any], fields: set[str]) -> None:
    resources = package["resources"]
    assert [r["position"] for r in resources] == list(range(len(resources)))
    assert {r["package_id"] for r in resources} == {package["id"]}
    aggregate_only = package["name"] == "dinsos-penerima_bansos"
    assert sorted(r["format"] for r in resources) == (
        ["GraphQL"] if aggregate_only else ["CSV", "JSON", "NDJSON"]
    )
    for resource in resources:
        answer = httpx.get(resource["url"])
        assert answer.status_code == 200, (resource["url"], answer.text)
        if resource["format"] == "CSV":
            rows = list(csv.reader(io.StringIO(answer.text)))
            assert set(rows[0]) == fields and len(rows) == len(PEOPLE) + 1
        elif resource["format"] == "GraphQL":
            body = answer.json()
            assert "errors" not in body, body
            groups = body["data"]["dinsos"]["penerimaBansosAggregate"]
            assert sum(g["count"] for g in groups) > 0


def test_a_dataset_the_public_sees_nothing_of_is_not_there(ckan: ckanapi.RemoteCKAN) -> None:
    everything = ckan.action.package_search(q="*:*", rows=1000)
    assert everything["count"] == len(OPEN_FIELDS)
    for name, words in (("dukcapil-arsip", "Arsip Rahasia"), ("inspektorat-temuan", "Temuan")):
        assert name not in ckan.action.package_list()
        assert name not in {p["name"] for p in everything["results"]}
        assert ckan.action.package_search(q=words)["count"] == 0
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id=name)
    assert "inspektorat" not in ckan.action.organization_list()
    with pytest.raises(ckanapi.NotFound):
        ckan.action.organization_show(id="inspektorat")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("", sorted(OPEN_FIELDS)),
        ("statistik", sorted(f"statistik-{t}" for t in TABLES)),  # the organisation's name
        (
            "TABEL genap",
            sorted(f"statistik-{t}" for t in TABLES if int(t[-2:]) % 2 == 0),
        ),  # every word, any case
        ("pkh", ["dinsos-penerima_bansos"]),  # a tag
        ("dukcapil-pend", ["dukcapil-penduduk"]),  # the package's name
        ("Synthetic kecamatan", ["dukcapil-penduduk"]),  # the description and the title
        ("nothing-like-this", []),
    ],
)
@pytest.mark.parametrize("rows", [1, 4, 10])
def test_search_pages_cover_every_match_once(
    ckan: ckanapi.RemoteCKAN, q: str, expected: list[str], rows: int
) -> None:
    seen: list[str] = []
    for start in range(0, len(expected) + rows, rows):
        page = ckan.action.package_search(q=q, rows=rows, start=start)
        assert page["count"] == len(expected)
        assert len(page["results"]) == min(rows, max(0, len(expected) - start))
        seen += [p["name"] for p in page["results"]]
    assert seen == expected


def test_search_rows_default_and_cap(ckan: ckanapi.RemoteCKAN) -> None:
    page = ckan.action.package_search()
    assert len(page["results"]) == 10 and page["count"] == len(OPEN_FIELDS)
    assert (page["facets"], page["search_facets"]) == ({}, {})
    assert page["results"][0] == ckan.action.package_show(id=page["results"][0]["name"])
    assert len(ckan.action.package_search(rows=5000)["results"]) == len(OPEN_FIELDS)


def test_organizations(ckan: ckanapi.RemoteCKAN) -> None:
    assert ckan.action.organization_list() == sorted(ORGS)
    full = ckan.action.organization_list(all_fields=True)
    assert [(o["name"], o["title"], o["package_count"]) for o in full] == [
        ("dinsos", ORGS["dinsos"], 1),
        ("dukcapil", ORGS["dukcapil"], 1),  # not its archive
        ("statistik", ORGS["statistik"], len(TABLES)),
    ]
    assert ckan.action.organization_list(limit=1, offset=1) == ["dukcapil"]
    for org in full:
        shown = ckan.action.organization_show(id=org["name"])
        assert shown == ckan.action.organization_show(id=org["id"]) == org
        assert "packages" not in shown
        listed = ckan.action.organization_show(id=org["name"], include_datasets=True)["packages"]
        assert [p["name"] for p in listed] == [
            n for n in sorted(OPEN_FIELDS) if n.startswith(org["name"] + "-")
        ]
        assert {p["owner_org"] for p in listed} == {org["id"]}


def test_get_and_post_on_both_paths(served: Running) -> None:
    show = {"id": "dukcapil-penduduk"}
    answers = []
    for path in ("/api/3/action/package_show", "/api/action/package_show"):
        got = httpx.get(served.base + path, params=show)
        posted = httpx.post(served.base + path, json=show)
        form = httpx.post(
            served.base + path,
            content=json.dumps(show),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        for answer in (got, posted, form):
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
            body = answer.json()
            assert body["success"] is True and body["help"].endswith(
                "/api/3/action/help_show?name=package_show"
            )
            answers.append(body["result"])
        assert (
            httpx.get(
                served.base + path, headers={"if-none-match": got.headers["etag"]}, params=show
            ).status_code
            == 304
        )
    assert all(a == answers[0] for a in answers)
    for remote in (
        RemoteCKAN3(served.base),
        RemoteCKAN3(served.base, get_only=True),
        ckanapi.RemoteCKAN(served.base, get_only=True),
    ):
        with remote:
            assert remote.action.package_show(**show) == answers[0]
            assert remote.action.package_search(q="statistik", rows=2)["count"] == len(TABLES)
    help_text = httpx.get(f"{served.base}/api/action/help_show", params={"name": "package_search"}).json()[
        "result"
    ]
    assert "q" in help_text and "rows" in help_text


@pytest.mark.parametrize(
    ("action", "params", "param", "message"),
    [
        ("package_search", {"rows": "many"}, "rows", "Invalid integer"),
        ("package_search", {"start": -1}, "start", "Must be a natural number"),
        ("package_search", {"q": ["a", "b"]}, "q", "Must be a string"),
        ("package_list", {"limit": 1.5}, "limit", "Invalid integer"),
        ("package_show", {}, "name_or_id", "Missing value"),
        ("organization_show", {}, "id", "Missing value"),
    ],
)
def test_bad_parameters_are_validation_errors(
    served: Running, ckan: ckanapi.RemoteCKAN, action: str, params: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(ckanapi.ValidationError) as raised:
        getattr(ckan.action, action)(**params)
    assert raised.value.error_dict == {"__type": "Validation Error", param: [message]}
    answer = httpx.post(f"{served.base}/api/3/action/{action}", json=params)
    assert answer.status_code == 409 and answer.json()["success"] is False


def test_errors_in_ckans_shapes(served: Running, ckan: ckanapi.RemoteCKAN) -> None:
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="dukcapil-nothing")
    missing = httpx.get(f"{served.base}/api/3/action/organization_show", params={"id": "nothing"})
    assert missing.status_code == 404
    assert missing.json()["error"] == {"__type": "Not Found Error", "message": "Not found"}
    unknown = httpx.post(f"{served.base}/api/3/action/package_create", json={"name": "x"})
    assert (unknown.status_code, unknown.json()) == (
        400,
        "Bad request - Action name not known: package_create",
    )
    with pytest.raises(ckanapi.CKANAPIError):
        ckan.action.package_delete(id="dukcapil-penduduk")
    for body in (b"{not json", b"[1, 2]"):
        bad = httpx.post(
            f"{served.base}/api/action/package_list",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert bad.status_code == 400 and bad.json().startswith("Bad request - JSON Error: ")
    assert httpx.put(f"{served.base}/api/action/package_list").status_code == 405


def test_the_demo_catalog(tmp_path: Path) -> None:
    """ckanapi reads package_list and package_show of every dataset of the demo catalog;
    the datasets are those of which the policy lets the public read or count a field."""
    data = tmp_path / "demo"
    generate(data, residents=500, progress=False)
    catalog = load_catalog(REPO / "schema", env={"HUB_DEMO_DIR": str(data)})
    policy = Policy(REPO / "policies", catalog)
    expected: dict[str, set[str]] = {}
    for ds in catalog.datasets.values():
        pairs = [(f"{ds.qualified}.{f}", a) for f in ds.fields for a in ("read", "aggregate")]
        allowed = policy.decide("public", pairs)
        shown = {
            f
            for f in ds.fields
            if allowed[(f"{ds.qualified}.{f}", "read")] or allowed[(f"{ds.qualified}.{f}", "aggregate")]
        }
        if shown:
            expected[f"{ds.opd}-{ds.name}"] = shown
    env = hub_env(
        HUB_DEMO_DIR=str(data),
        HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        PYTHONPATH=str(REPO),
    )
    args = ("serve", "--schema", str(REPO / "schema"), "--policies", str(REPO / "policies"), "--port", "0")
    with (
        running_hub(*args, cwd=tmp_path, env=env, log=tmp_path / "log") as run,
        ckanapi.RemoteCKAN(run.base) as remote,
    ):
        names = remote.action.package_list()
        assert names == sorted(expected) and "dinkes-puskesmas" in names
        for name in names:
            package = remote.action.package_show(id=name)
            ds = catalog.datasets[name.replace("-", ".", 1)]
            assert (package["title"], package["organization"]["name"]) == (ds.spec.title, ds.opd)
            hidden = {f for f in ds.fields if f not in expected[name]} - {"id"}  # .go.id, in addresses
            text = " ".join(strings(package))
            for written in (ds.spec.title or "", ds.spec.description or "", *ds.spec.keywords):
                text = text.replace(written, "")  # the catalog's own words ("as reported by the puskesmas")
            assert not {f for f in hidden if re.search(rf"\b({f}|{camel(f)})\b", text)}, name
            for resource in package["resources"]:
                assert httpx.get(resource["url"]).status_code == 200, resource["url"]
