"""Match is a verification, not a search: attacks by a curious insider holding Dinsos's
match-only rights on the demo regency (generated data, the project's own policy).

Dinsos may compare NIK, name, birth date, kecamatan and alive status against Dukcapil's
register, and read none of them. These tests hold the hub to what that promises:

- a filter on a field Dinsos may only compare must name its rows by the key, at the top
  level, with one value per compared field (else FORBIDDEN, saying why), so `totalCount`
  cannot bisect a birth date or test a list of names;
- a request compares at most HUB_MATCH_RECORDS_PER_REQUEST records, across all match fields, key
  filters and aliases, so aliases cannot multiply the per-field limit;
- per key and field, at most the dataset's `match_guesses` (3 in the demo catalog's
  default) distinct values are compared in a day, whatever the route and however many
  requests: the rest come back null with MATCH_LIMIT.

The hub is shared by the module's tests and the budget outlives requests, so each test
works on residents of its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hub.http.app import Hub, create_app
from hub.settings import Settings
from hub.store import clients
from tests.support.demo import demo_regency

MAX_MATCH_RECORDS: int = Settings.model_fields["match_records_per_request"].default

REPO = Path(__file__).resolve().parents[1]
RESIDENTS = 600


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with demo_regency(tmp_path_factory.mktemp("match-demo"), RESIDENTS) as data_dir:
        yield data_dir


@pytest.fixture(scope="module")
def register(demo_dir: Path) -> list[dict[str, Any]]:
    """Dukcapil's rows, read straight from its file: the truth the attacks are after."""
    conn = sqlite3.connect(f"file:{demo_dir / 'dukcapil.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT nik, nama, tanggal_lahir FROM penduduk ORDER BY nik").fetchall()
    finally:
        conn.close()
    return [{"nik": n, "nama": m, "tanggalLahir": d} for n, m, d in rows]


@pytest_asyncio.fixture(scope="module")
async def dinsos(
    demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    work = tmp_path_factory.mktemp("match-hub")
    hub = await Hub.start(
        Settings(
            schema_dir=REPO / "schema", policies_dir=REPO / "policies",
            database_url=f"sqlite+aiosqlite:///{work / 'hub.db'}",
        )
    )  # fmt: skip
    key = (await clients.create(hub.store, "opd:dinsos")).key
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(hub=hub)),
        base_url="http://hub",
        headers={"Authorization": f"Bearer {key}"},
    )
    try:
        yield client
    finally:
        await client.aclose()
        await hub.close()


async def ask(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


COUNT = "query($w: DukcapilPendudukWhere) { dukcapil { penduduk(where: $w) { totalCount } } }"


# --- the attacks of the issue, each refused ---------------------------------------------


async def test_birth_date_bisection_through_total_count_is_forbidden(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """The attack: under one NIK, a chunk of names and a chunk of dates, and `totalCount`
    says whether the truth is among them; halving the chunks finds both."""
    target = register[7]
    names = [r["nama"] for r in register[:50]]
    dates = [r["tanggalLahir"] for r in register[:50]]
    where = {"nik": {"eq": target["nik"]}, "nama": {"in": names}, "tanggalLahir": {"in": dates}}
    body = await ask(dinsos, COUNT, {"w": where})
    assert body["data"] is None or body["data"]["dukcapil"]["penduduk"] is None, body
    assert codes(body) == ["FORBIDDEN"]
    message = body["errors"][0]["message"]
    assert "one value per row" in message and "50 values" in message, message


async def test_a_compared_field_without_the_key_is_forbidden(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """`nama: {eq}` alone counts everyone of that name: a search, not a verification."""
    body = await ask(dinsos, COUNT, {"w": {"nama": {"eq": register[3]["nama"]}}})
    assert codes(body) == ["FORBIDDEN"]
    assert "name the rows by the key (nik" in body["errors"][0]["message"]


async def test_a_compared_field_inside_or_is_forbidden(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """`or` would let one key test several guesses: `nik = N and (nama = a or nama = b)`."""
    target = register[11]
    where = {
        "nik": {"eq": target["nik"]},
        "or": [{"nama": {"eq": register[0]["nama"]}}, {"nama": {"eq": target["nama"]}}],
    }
    body = await ask(dinsos, COUNT, {"w": where})
    assert codes(body) == ["FORBIDDEN"]
    assert "not inside `or` or `not`" in body["errors"][0]["message"]


async def test_aliases_cannot_multiply_the_records_of_one_request(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """11 aliases x 1,000 guesses for one NIK was how a name came out in one request:
    the request's records are counted across aliases, and the first alias past the limit
    is refused while the ones before it answer."""
    per_alias = MAX_MATCH_RECORDS // 2 + 1  # two aliases fit one limit only if counted apart
    # one guess per NIK, here: the records' count is what is under test
    records = [{"nik": f"98{i:014d}", "nama": f"guess {i}"} for i in range(per_alias)]
    query = (
        "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { "
        "a: pendudukMatch(records: $r) { index } b: pendudukMatch(records: $r) { index } } }"
    )
    body = await ask(dinsos, query, {"r": records})
    answered = {k: v for k, v in (body["data"]["dukcapil"] or {}).items() if v is not None}
    assert list(answered) == ["a"] and len(answered["a"]) == per_alias, body.get("errors")
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["dukcapil", "b"]
    assert f"at most {MAX_MATCH_RECORDS} records may be compared per request" in body["errors"][0]["message"]


async def test_key_enumeration_counts_against_the_request_limit(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """`nik: {in: [...]}` with `totalCount` tests which candidate NIKs exist: a request
    tests as many as a match of that many records would, whether through filters, match
    records or both, and no more."""
    half = MAX_MATCH_RECORDS // 2 + 1
    candidates = [r["nik"] for r in register] + [f"99{i:014d}" for i in range(2 * half)]
    first, second = candidates[:half], candidates[half : 2 * half]
    query = (
        "query($a: DukcapilPendudukWhere, $b: DukcapilPendudukWhere) { dukcapil { "
        "a: penduduk(where: $a) { totalCount } b: penduduk(where: $b) { totalCount } } }"
    )
    body = await ask(dinsos, query, {"a": {"nik": {"in": first}}, "b": {"nik": {"in": second}}})
    assert body["data"]["dukcapil"]["a"] == {"totalCount": len(set(first) & {r["nik"] for r in register})}
    assert body["data"]["dukcapil"]["b"] is None
    assert codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["path"] == ["dukcapil", "b"]
    # a match and a key filter draw on the same count
    mixed = (
        "query($a: DukcapilPendudukWhere, $r: [DukcapilPendudukMatchInput!]!) { dukcapil { "
        "m: pendudukMatch(records: $r) { found } a: penduduk(where: $a) { totalCount } } }"
    )
    body = await ask(dinsos, mixed, {"a": {"nik": {"in": first}}, "r": [{"nik": n} for n in second]})
    assert len(body["data"]["dukcapil"]["m"]) == half and body["data"]["dukcapil"]["a"] is None
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_a_name_from_a_nik_through_10000_guesses_learns_at_most_the_budget(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """Ten requests of 1,000 guesses for one NIK, the true name among them: three
    comparisons are answered (all `false`), every other flag is withheld."""
    target = register[300]
    guesses = [f"Guess {i}" for i in range(10_000)]
    guesses[5_555] = target["nama"]
    query = (
        "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { found nama } } }"
    )
    flags: list[bool | None] = []
    limited = 0
    for start in range(0, len(guesses), MAX_MATCH_RECORDS):
        records = [{"nik": target["nik"], "nama": g} for g in guesses[start : start + MAX_MATCH_RECORDS]]
        body = await ask(dinsos, query, {"r": records})
        answers = body["data"]["dukcapil"]["pendudukMatch"]
        assert all(a["found"] is True for a in answers)  # whether the NIK exists: by design
        flags += [a["nama"] for a in answers]
        limited += codes(body).count("MATCH_LIMIT")
        assert set(codes(body)) <= {"MATCH_LIMIT"}
    assert flags[:3] == [False, False, False]
    assert flags[3:] == [None] * (len(guesses) - 3)
    assert limited == len(guesses) - 3


async def test_aliases_share_one_budget(dinsos: httpx.AsyncClient, register: list[dict[str, Any]]) -> None:
    """Guesses for one NIK split over aliases of one request: three answered in all."""
    target = register[302]
    query = (
        "query($a: [DukcapilPendudukMatchInput!]!, $b: [DukcapilPendudukMatchInput!]!) { dukcapil { "
        "a: pendudukMatch(records: $a) { nama } b: pendudukMatch(records: $b) { nama } } }"
    )
    a = [{"nik": target["nik"], "nama": f"A {i}"} for i in range(400)]
    b = [{"nik": target["nik"], "nama": f"B {i}"} for i in range(399)] + [
        {"nik": target["nik"], "nama": target["nama"]}
    ]
    body = await ask(dinsos, query, {"a": a, "b": b})
    flags = [x["nama"] for alias in ("a", "b") for x in body["data"]["dukcapil"][alias]]
    assert sum(f is not None for f in flags) == 3 and True not in flags
    assert codes(body).count("MATCH_LIMIT") == 800 - 3


async def test_guessing_through_filters_spends_the_same_budget(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """One `eq` per request instead: the fourth different name is refused, the true one
    included, while names already asked stay answerable (no new guess)."""
    target = register[301]
    answers = []
    for name in ["Wrong 1", "Wrong 2", "Wrong 3", "Wrong 4", target["nama"], "Wrong 1"]:
        body = await ask(dinsos, COUNT, {"w": {"nik": {"eq": target["nik"]}, "nama": {"eq": name}}})
        page = body["data"] and body["data"]["dukcapil"]["penduduk"]
        answers.append(page["totalCount"] if page else codes(body)[0])
    assert answers == [0, 0, 0, "MATCH_LIMIT", "MATCH_LIMIT", 0]
    # and a match record on the same key and field meets the same spent budget
    match = "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { nama } } }"
    body = await ask(dinsos, match, {"r": [{"nik": target["nik"], "nama": target["nama"]}]})
    assert body["data"]["dukcapil"]["pendudukMatch"] == [{"nama": None}]
    assert codes(body) == ["MATCH_LIMIT"]
    assert body["errors"][0]["path"] == ["dukcapil", "pendudukMatch", 0, "nama"]


async def test_verifying_every_resident_once_stays_within_every_budget(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """The legitimate flow: each of Dinsos's recipients checked once, name and birth date,
    in calls of up to 1,000 records: every flag answered, and right."""
    people = register[400:600]
    query = (
        "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { "
        "pendudukMatch(records: $r) { index found nama tanggalLahir } } }"
    )
    records = [{"nik": p["nik"], "nama": p["nama"], "tanggalLahir": p["tanggalLahir"]} for p in people]
    body = await ask(dinsos, query, {"r": records})
    assert "errors" not in body, body["errors"][:3]
    answers = body["data"]["dukcapil"]["pendudukMatch"]
    assert [(a["found"], a["nama"], a["tanggalLahir"]) for a in answers] == [(True, True, True)] * len(people)


# --- what a verification may still do -----------------------------------------------------


async def test_a_key_anchored_comparison_answers_as_match_would(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    target, other = register[21], register[22]
    agree = {"nik": {"eq": target["nik"]}, "nama": {"eq": target["nama"]}}
    differ = {"nik": {"eq": target["nik"]}, "nama": {"in": [other["nama"]]}}
    counts = []
    for where in (agree, differ):
        body = await ask(dinsos, COUNT, {"w": where})
        assert "errors" not in body, body["errors"]
        counts.append(body["data"]["dukcapil"]["penduduk"]["totalCount"])
    assert counts == [1, 0]
    # the same two questions through pendudukMatch
    match = (
        "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { found nama } } }"
    )
    records = [{"nik": target["nik"], "nama": target["nama"]}, {"nik": target["nik"], "nama": other["nama"]}]
    body = await ask(dinsos, match, {"r": records})
    assert body["data"]["dukcapil"]["pendudukMatch"] == [
        {"found": True, "nama": True},
        {"found": True, "nama": False},
    ]


async def test_many_keys_each_with_one_value_is_a_verification(
    dinsos: httpx.AsyncClient, register: list[dict[str, Any]]
) -> None:
    """Rows named by `nik: {in}` and one name: how many of these residents bear it."""
    rows = register[100:160]
    name = rows[0]["nama"]
    where = {"nik": {"in": [r["nik"] for r in rows]}, "nama": {"eq": name}}
    body = await ask(dinsos, COUNT, {"w": where})
    assert "errors" not in body, body["errors"]
    want = sum(1 for r in rows if " ".join(r["nama"].split()).casefold() == " ".join(name.split()).casefold())
    assert body["data"]["dukcapil"]["penduduk"]["totalCount"] == want >= 1
