"""Downloads of what the public may read (hub/http/downloads.py): CSV, NDJSON and JSON
hold exactly the rows and public fields the oracle (the rows in Python) says, in key
order, across many source pages, on SQLite, PostgreSQL and MariaDB; filters in
`where`'s terms select what Python's comparisons select; nothing else leaves (no value
of a field the public may not read, no sign of a dataset it may read nothing of); bad
parameters are refused before any row; and a stream a source stops mid-way ends with
the error, in each format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.support.databases import BACKENDS
from tests.support.regency import Regency, load_regency, make_rows, start_hub
from tests.support.regency import write_policies as write_rules

PEOPLE, RECIPIENTS = make_rows(residents=500)
PUBLIC = ("kecamatan", "tanggal_lahir", "status_hidup", "tinggi", "anak")  # catalog order
ROW_KEYS = {"status_hidup": "is_alive"}  # the rows' names where they differ
RULES = """p, user:tester, *, *, allow
p, public, dukcapil.penduduk.kecamatan, read, allow
p, public, dukcapil.penduduk.tanggal_lahir, read, allow
p, public, dukcapil.penduduk.status_hidup, read, allow
p, public, dukcapil.penduduk.tinggi, read, allow
p, public, dukcapil.penduduk.anak, read, allow
p, public, dinsos.penerima_bansos.program, aggregate, allow
"""
PAGE_ROWS = 37  # many pages of 500 rows, the last one short


def value(p: dict[str, Any], field: str) -> Any:
    return p[ROW_KEYS.get(field, field)]


def as_json(v: Any) -> Any:
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def as_csv(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(as_json(v))


def expected(keep: Callable[[dict[str, Any]], bool] = lambda p: True) -> list[dict[str, Any]]:
    return [
        {f: as_json(value(p, f)) for f in PUBLIC} for p in sorted(PEOPLE, key=lambda p: p["nik"]) if keep(p)
    ]


@pytest_asyncio.fixture(scope="module", params=BACKENDS)
async def town(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Regency]:
    tmp = tmp_path_factory.mktemp(f"downloads-{request.param}")
    databases = await load_regency(tmp, PEOPLE, RECIPIENTS, kind=request.param)
    write_rules(tmp / "policies", RULES)
    hub, client = await start_hub(tmp, download_page_rows=PAGE_ROWS)
    regency = Regency(request.param, hub, client, PEOPLE, RECIPIENTS, databases)
    yield regency
    await regency.close()


async def get(town: Regency, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    return await town.client.get(path, params=params, headers={"authorization": ""})


def rows_of(fmt: str, r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    if fmt == "csv":
        lines = list(csv.reader(io.StringIO(r.text)))
        assert lines[0] == list(PUBLIC)
        assert all(line[0] != "#ERROR" for line in lines)
        return [dict(zip(PUBLIC, line, strict=True)) for line in lines[1:]]
    if fmt == "ndjson":
        return [json.loads(line) for line in r.text.splitlines()]
    body = json.loads(r.text)
    assert body["complete"] is True and body["fields"] == list(PUBLIC)
    return list(body["rows"])


def in_csv(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{f: as_csv(v) for f, v in row.items()} for row in rows]


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json"])
async def test_a_download_holds_every_row_and_public_field_in_key_order(town: Regency, fmt: str) -> None:
    r = await get(town, f"/public/datasets/dukcapil/penduduk.{fmt}")
    want = expected()
    got = rows_of(fmt, r)
    if fmt == "csv":
        assert got == in_csv(want)
        assert r.headers["content-type"].startswith("text/csv")
    else:
        assert got == [
            {f: (float(v) if f == "tinggi" and v is not None else v) for f, v in row.items()} for row in want
        ]
    assert 'filename="dukcapil-penduduk.' in r.headers["content-disposition"]
    # nothing of the fields the public may not read: no NIK, name or balance
    for p in PEOPLE[:50]:
        assert p["nik"] not in r.text and p["nama"] not in r.text and str(p["saldo"]) not in r.text


# (parameters, what they select)
FILTERS: list[tuple[dict[str, str], Callable[[dict[str, Any]], bool]]] = [
    ({"kecamatan": "Meral"}, lambda p: p["kecamatan"] == "Meral"),
    ({"kecamatan__in": "Meral,Tebing"}, lambda p: p["kecamatan"] in ("Meral", "Tebing")),
    ({"kecamatan__neq": "Meral"}, lambda p: p["kecamatan"] != "Meral"),
    ({"anak__gte": "3"}, lambda p: p["anak"] is not None and p["anak"] >= 3),
    ({"anak__isnull": "true"}, lambda p: p["anak"] is None),
    ({"kecamatan__like": "%ER%"}, lambda p: p["kecamatan"] is not None and "er" in p["kecamatan"].lower()),
    (
        {"status_hidup": "false", "tanggal_lahir__lt": "1980-01-01"},
        lambda p: (
            not p["is_alive"] and p["tanggal_lahir"] is not None and p["tanggal_lahir"] < dt.date(1980, 1, 1)
        ),
    ),
    ({"tinggi__gt": "170.5", "anak__nin": "0,1"}, lambda p: p["tinggi"] > 170.5 and p["anak"] not in (0, 1)),
]


@pytest.mark.parametrize(("params", "keep"), FILTERS, ids=[str(p) for p, _ in FILTERS])
async def test_filters_select_what_the_comparisons_do(
    town: Regency, params: dict[str, str], keep: Callable[[dict[str, Any]], bool]
) -> None:
    want = expected(keep)
    assert 0 < len(want) < len(PEOPLE)
    got = rows_of("csv", await get(town, "/public/datasets/dukcapil/penduduk.csv", params))
    assert got == in_csv(want)


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/public/datasets/dukcapil/penduduk.csv", {"nik": "x"}, 400, "no field 'nik' the public may read"),
        (
            "/public/datasets/dukcapil/penduduk.csv",
            {"saldo__gt": "1"},
            400,
            "no field 'saldo' the public may read",
        ),
        ("/public/datasets/dukcapil/penduduk.csv", {"nope": "1"}, 400, "no field 'nope' the public may read"),
        ("/public/datasets/dukcapil/penduduk.csv", {"anak__between": "1"}, 400, "the operators are"),
        ("/public/datasets/dukcapil/penduduk.csv", {"anak": "two"}, 400, "not a value of that field's type"),
        ("/public/datasets/dukcapil/penduduk.csv", {"tanggal_lahir": "1990-13-01"}, 400, "not a value"),
        ("/public/datasets/dukcapil/penduduk.csv", {"anak__like": "%1%"}, 400, "like compares text"),
        ("/public/datasets/dukcapil/penduduk.csv", {"anak__isnull": "maybe"}, 400, "give true or false"),
        ("/public/datasets/dukcapil/penduduk.xlsx", {}, 404, "not 'penduduk.xlsx'"),
        ("/public/datasets/dukcapil/nothing.csv", {}, 404, "no dataset dukcapil.nothing"),
        # the public may only count recipients: as if there were none
        ("/public/datasets/dinsos/penerima_bansos.csv", {}, 404, "no dataset dinsos.penerima_bansos"),
    ],
)
async def test_bad_requests_are_refused_before_any_row(
    town: Regency, path: str, params: dict[str, str], status: int, words: str
) -> None:
    r = await get(town, path, params)
    assert r.status_code == status, r.text
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and words in error["message"], error


def test_the_oracle_has_values_of_every_kind() -> None:
    kinds = {type(value(p, f)) for p in PEOPLE for f in PUBLIC}
    assert {str, dt.date, bool, float, int, type(None)} <= kinds
    assert not any(isinstance(value(p, f), Decimal) for p in PEOPLE for f in PUBLIC)


async def test_a_source_that_is_down_answers_503_before_any_row(tmp_path: Path) -> None:
    databases = await load_regency(tmp_path, PEOPLE, RECIPIENTS, kind="postgresql")
    write_rules(tmp_path / "policies", RULES)
    hub, client = await start_hub(tmp_path)
    try:
        await databases[0].drop()
        r = await client.get("/public/datasets/dukcapil/penduduk.csv")
        assert r.status_code == 503, r.text
        assert r.json()["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    finally:
        await client.aclose()
        await hub.close()
        await databases[1].drop()
