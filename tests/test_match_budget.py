"""The guess book (hub/store/guesses.py): per (subject, dataset, key, field), at most
`most` distinct values compared within the window, on every store it can live in (the
hub store on SQLite, PostgreSQL and MariaDB, and Redis), shared by every process that
uses the same store and kept across restarts."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.demo.generate import MIN_RESIDENTS, generate
from hub.store.guesses import Digests, Guess, GuessBook, SqlGuessBook
from hub.store.in_redis import RedisGuessBook
from tests.support.books import KINDS, books_on
from tests.support.databases import REDIS, require_server
from tests.support.hubcli import hub_env, run_hub, running_hubs

DAY = 24 * 3600.0
REPO = Path(__file__).resolve().parents[1]
T0 = 1_800_000_000.0  # a fixed "now": the window is tested by moving it, never by waiting
D = Digests(b"test secret")


def guess(key: str, value: str, field: str = "nama") -> Guess:
    return Guess(D.of("dukcapil.penduduk", "nik", key), field, D.of("dukcapil.penduduk", field, value))


Books = Callable[[], GuessBook]  # a new book on the same store: another process, or after a restart


@pytest_asyncio.fixture(params=KINDS)
async def books(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Books]:
    async with books_on(request.param, tmp_path, SqlGuessBook, RedisGuessBook) as make:
        yield make


def subject() -> str:
    """A subject of its own per test: Redis is shared by every run."""
    return f"opd:test-{uuid.uuid4().hex[:12]}"


async def test_at_most_the_budget_of_distinct_values_per_key_and_field(books: Books) -> None:
    book, who = books(), subject()
    names = [guess("2102010301680001", f"name {i}") for i in range(5)]
    assert await book.spend(who, "dukcapil.penduduk", names, 3, DAY, now=T0) == [True] * 3 + [False] * 2
    # later requests: a value already compared is free, a new one is refused
    again = [names[1], names[4], names[0]]
    assert await book.spend(who, "dukcapil.penduduk", again, 3, DAY, now=T0 + 60) == [True, False, True]


async def test_each_key_field_and_subject_has_its_own_budget(books: Books) -> None:
    book, who, other = books(), subject(), subject()
    full = [guess("1", f"n{i}") for i in range(3)]
    assert await book.spend(who, "dukcapil.penduduk", full, 3, DAY, now=T0) == [True] * 3
    fresh = [guess("2", "n9"), guess("1", "1990-01-01", "tanggal_lahir"), guess("1", "n9")]
    assert await book.spend(who, "dukcapil.penduduk", fresh, 3, DAY, now=T0) == [True, True, False]
    assert await book.spend(other, "dukcapil.penduduk", [guess("1", "n9")], 3, DAY, now=T0) == [True]
    assert await book.spend(who, "dinkes.imunisasi", [guess("1", "n9")], 3, DAY, now=T0) == [True]


async def test_guesses_leave_the_budget_when_the_window_has_passed(books: Books) -> None:
    book, who = books(), subject()
    first = [guess("1", f"n{i}") for i in range(3)]
    assert await book.spend(who, "dukcapil.penduduk", first, 3, DAY, now=T0) == [True] * 3
    assert await book.spend(who, "dukcapil.penduduk", [guess("1", "n3")], 3, DAY, now=T0 + DAY - 1) == [False]
    assert await book.spend(who, "dukcapil.penduduk", [guess("1", "n3")], 3, DAY, now=T0 + DAY + 1) == [True]


async def test_two_processes_and_a_restart_share_one_budget(books: Books) -> None:
    a, b, who = books(), books(), subject()
    assert await a.spend(who, "dukcapil.penduduk", [guess("1", "n0"), guess("1", "n1")], 3, DAY, now=T0) == [
        True,
        True,
    ]
    assert await b.spend(who, "dukcapil.penduduk", [guess("1", "n2"), guess("1", "n3")], 3, DAY, now=T0) == [
        True,
        False,
    ]
    await a.aclose()
    restarted = books()
    assert await restarted.spend(who, "dukcapil.penduduk", [guess("1", "n4")], 3, DAY, now=T0) == [False]
    assert await restarted.spend(who, "dukcapil.penduduk", [guess("1", "n0")], 3, DAY, now=T0) == [True]


async def test_concurrent_spends_never_exceed_the_budget(books: Books) -> None:
    """Ten books (as ten processes) each guess two new values for one key at once:
    exactly three guesses in all may be compared."""
    who = subject()
    many = [books() for _ in range(10)]
    verdicts = await asyncio.gather(
        *(
            book.spend(who, "dukcapil.penduduk", [guess("1", f"p{i}a"), guess("1", f"p{i}b")], 3, DAY, now=T0)
            for i, book in enumerate(many)
        )
    )
    assert sum(v for vs in verdicts for v in vs) == 3, verdicts


def test_digests_hold_no_value_and_depend_on_the_secret() -> None:
    nik = "2102010301680001"
    a, b = (
        Digests(b"one").of("dukcapil.penduduk", "nik", nik),
        Digests(b"two").of("dukcapil.penduduk", "nik", nik),
    )
    assert a != b and nik not in a and len(a) == 32
    assert Digests(b"one").of("dukcapil.penduduk", "nik", nik) == a


# --- the same through `hub serve` processes -------------------------------------------


MATCH = "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) { nama } } }"


def flags(base: str, key: str, nik: str, names: list[str]) -> list[bool | None]:
    records = [{"nik": nik, "nama": n} for n in names]
    r = httpx.post(
        f"{base}/graphql",
        json={"query": MATCH, "variables": {"r": records}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert {e["extensions"]["code"] for e in body.get("errors", [])} <= {"MATCH_LIMIT"}, body
    return [a["nama"] for a in body["data"]["dukcapil"]["pendudukMatch"]]


@pytest.mark.parametrize("where", ["store", "redis"])
async def test_two_hub_processes_and_a_restart_keep_one_budget(tmp_path: Path, where: str) -> None:
    """Dinsos guesses names for one NIK against two `hub serve` processes sharing a SQLite
    store (or a Redis), then against a restarted one: three guesses in all."""
    if where == "redis":
        require_server("redis")
    data = tmp_path / "demo"
    generate(data, residents=MIN_RESIDENTS, progress=False)
    conn = sqlite3.connect(data / "dukcapil.db")
    nik, name = conn.execute("SELECT nik, nama FROM penduduk ORDER BY nik LIMIT 1").fetchone()
    conn.close()
    extra = {"HUB_REDIS_URL": REDIS[2]} if where == "redis" else {}
    env = hub_env(
        HUB_DEMO_DIR=str(data), HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        HUB_AUDIT_KEY=uuid.uuid4().hex, **extra,  # a fresh key: fresh digests in the shared Redis
    )  # fmt: skip
    created = await run_hub("clients", "create", "opd:dinsos", env=env, cwd=tmp_path)
    assert created.code == 0, created.stderr
    key = created.stdout.strip()
    serve = ("serve", "--schema", str(REPO / "schema"), "--policies", str(REPO / "policies"), "--port", "0")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with running_hubs(*serve, cwd=tmp_path, env=env, logs=logs) as (a, b):
        assert await asyncio.to_thread(flags, a.base, key, nik, ["Wrong 1", "Wrong 2"]) == [False, False]
        assert await asyncio.to_thread(flags, b.base, key, nik, ["Wrong 3", name]) == [False, None]
    with running_hubs(*serve, cwd=tmp_path, env=env, logs=[tmp_path / "c.log"]) as (c,):
        assert await asyncio.to_thread(flags, c.base, key, nik, [name, "Wrong 1"]) == [None, False]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
async def test_guesses_of_keys_never_asked_again_are_purged(kind: str, tmp_path: Path) -> None:
    """Keys asked once and never again would stay in the store for ever: every
    `purge_every`-th spend of a (subject, dataset) forgets all its guesses past the window."""
    async with books_on(
        kind, tmp_path, lambda engine: SqlGuessBook(engine, purge_every=5), RedisGuessBook
    ) as make:
        book = make()
        assert isinstance(book, SqlGuessBook)
        who = subject()
        for i in range(3):  # spends 1-3: three keys, never asked again
            await book.spend(who, "dukcapil.penduduk", [guess(f"old {i}", "x")], 3, DAY, now=T0)
        await book.spend(who, "dukcapil.penduduk", [guess("new", "x")], 3, DAY, now=T0 + 2 * DAY)  # spend 4
        assert await stored(book) == 4  # a spend forgets only its own keys' stale guesses
        await book.spend(who, "dukcapil.penduduk", [guess("new", "y")], 3, DAY, now=T0 + 2 * DAY)  # spend 5
        assert await stored(book) == 2  # the fifth forgets every stale guess of the subject


async def stored(book: SqlGuessBook) -> int:
    async with book.engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM match_guess"))).scalar_one())
