"""Rate limits (hub/http/ratelimit.py): per client address on the public routes, per API
key on /graphql; 429 with `Retry-After`, `RateLimit-*` and a coded body; counted in process
memory, or in Redis, where several `hub serve` processes spend one budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from limits import parse
from pydantic import ValidationError

from hub.http.app import create_app
from hub.http.hub import Hub
from hub.http.ratelimit import REDIS_PREFIX
from hub.settings import Settings
from hub.store import clients
from tests.support.databases import require_server
from tests.support.hubcli import Running, hub_env, run_hub, running_hubs
from tests.support.regency import load_regency, make_rows, start_hub, write_policies

REPO = Path(__file__).resolve().parents[1]  # on the served hubs' PYTHONPATH: this checkout's code
PEOPLE, RECIPIENTS = make_rows(residents=20)
TYPENAME = {"query": "{ __typename }"}


@asynccontextmanager
async def limited_hub(tmp: Path, **settings: str) -> AsyncIterator[Hub]:
    await load_regency(tmp, PEOPLE, RECIPIENTS)
    hub, client = await start_hub(tmp, **settings)
    await client.aclose()
    try:
        yield hub
    finally:
        await hub.close()


def client_at(hub: Hub, address: str, key: str | None = None) -> httpx.AsyncClient:
    """A client of the hub's app whose connection comes from `address`."""
    transport = httpx.ASGITransport(app=create_app(hub=hub), client=(address, 1234))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=transport, base_url="http://hub", headers=headers)


def assert_refused(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 3600
    assert error["extensions"]["retryAfter"] == wait
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(response.headers["ratelimit-reset"]) <= 3600


async def test_an_address_over_its_budget_is_refused_and_others_pass(tmp_path: Path) -> None:
    async with (
        limited_hub(tmp_path, rate_limit_public="5/hour") as hub,
        client_at(hub, "10.0.0.1") as first,
        client_at(hub, "10.0.0.2") as second,
    ):
        # pages, the CKAN API and public GraphQL all spend the one budget of an address
        answers = [
            await first.get("/public/"),
            await first.get("/api/3/action/package_list"),
            await first.post("/public/graphql", json=TYPENAME),
            await first.post("/graphql", json=TYPENAME),  # without a key: the public budget
            await first.get("/"),  # a redirect to /public/
        ]
        assert [r.status_code for r in answers] == [200, 200, 200, 401, 307]
        assert [r.headers["ratelimit-remaining"] for r in answers] == ["4", "3", "2", "1", "0"]
        assert all(r.headers["ratelimit-limit"] == "5" for r in answers)
        assert_refused(await first.post("/public/graphql", json=TYPENAME), 5)
        assert_refused(await first.get("/public/"), 5)
        assert (await second.post("/public/graphql", json=TYPENAME)).status_code == 200
        # never limited: health, metrics, static assets
        for path in ("/healthz", "/readyz", "/metrics", "/static/portal.css"):
            response = await first.get(path)
            assert response.status_code == 200, path
            assert "ratelimit-limit" not in response.headers
        assert 'hub_rate_limited_total{limit="address"} 2.0' in (await first.get("/metrics")).text


async def test_each_api_key_has_its_own_budget(tmp_path: Path) -> None:
    async with limited_hub(tmp_path, rate_limit_key="3/hour", rate_limit_public="1/hour") as hub:
        one = (await clients.create(hub.store, "user:one")).key
        two = (await clients.create(hub.store, "user:two")).key
        async with client_at(hub, "10.0.0.1", one) as a, client_at(hub, "10.0.0.1", two) as b:
            # one address, two keys: the keys' budgets, not the address's (1/hour)
            for _ in range(3):
                assert (await a.post("/graphql", json=TYPENAME)).status_code == 200
            assert_refused(await a.post("/graphql", json=TYPENAME), 3)
            for _ in range(3):
                response = await b.post("/graphql", json=TYPENAME)
                assert response.status_code == 200, response.text
            assert_refused(await b.post("/graphql", json=TYPENAME), 3)
            metrics = (await a.get("/metrics")).text
            assert 'hub_rate_limited_total{limit="key"} 2.0' in metrics


async def test_unknown_keys_spend_their_address_budget(tmp_path: Path) -> None:
    """A new made-up key per request must not escape every limit: each one the hub refuses
    (401) costs its address, and once that budget is spent, keyed requests from there are
    refused before their key is looked at; keys from elsewhere are not."""
    async with limited_hub(tmp_path, rate_limit_key="100/hour", rate_limit_public="3/hour") as hub:
        good = (await clients.create(hub.store, "user:one")).key
        async with client_at(hub, "10.0.0.9") as guesser, client_at(hub, "10.0.0.8", good) as other:
            for i in range(3):
                made_up = {"Authorization": f"Bearer guess-{i}"}
                assert (await guesser.post("/graphql", json=TYPENAME, headers=made_up)).status_code == 401
            refused = await guesser.post(
                "/graphql", json=TYPENAME, headers={"Authorization": "Bearer guess-x"}
            )
            assert_refused(refused, 3)
            assert "unknown API keys" in refused.json()["errors"][0]["message"]
            # the same address with a real key: refused too, its address has spent the budget
            real = await guesser.post("/graphql", json=TYPENAME, headers={"Authorization": f"Bearer {good}"})
            assert real.status_code == 429
            # a real key from another address is not touched, nor is its key budget spent by them
            response = await other.post("/graphql", json=TYPENAME)
            assert response.status_code == 200 and response.headers["ratelimit-remaining"] == "99"
            metrics = (await other.get("/metrics")).text
            assert 'hub_rate_limited_total{limit="refused"} 2.0' in metrics


async def test_an_empty_setting_means_no_limit(tmp_path: Path) -> None:
    async with limited_hub(tmp_path, rate_limit_public="") as hub, client_at(hub, "10.0.0.1") as c:
        for _ in range(20):
            response = await c.post("/public/graphql", json=TYPENAME)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


@pytest.mark.parametrize(
    "value", ["lots", "5/fortnight", "-1/minute", "5 per", "0/minute", "10/second;0/hour"]
)
def test_a_bad_limit_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="is not a rate limit"):
        Settings(rate_limit_public=value)
    with pytest.raises(ValidationError, match="is not a rate limit"):
        Settings(rate_limit_key=value)


@pytest.fixture
def regency_dir(tmp_path: Path) -> Path:
    asyncio.run(load_regency(tmp_path, PEOPLE, RECIPIENTS))
    write_policies(tmp_path / "policies")
    return tmp_path


@pytest.fixture
def shared_budget() -> Iterator[str]:
    """The Redis key of loopback's 6/hour budget, deleted before and after the test (the
    suite's other hubs use other limits, so other keys)."""
    require_server("redis")
    key = f"{REDIS_PREFIX}:{parse('6/hour').key_for('address', '127.0.0.1')}"
    client = redis.Redis(host="127.0.0.1", port=6379)
    client.delete(key)
    yield key
    client.delete(key)
    client.close()


@contextmanager
def serve_two(tmp: Path, **settings: str) -> Iterator[list[Running]]:
    env = hub_env(
        HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
        HUB_RATE_LIMIT_PUBLIC="6/hour",
        PYTHONPATH=str(REPO),
        **settings,
    )
    args = ("serve", "--schema", str(tmp / "schema"), "--policies", str(tmp / "policies"), "--port", "0")
    with running_hubs(*args, cwd=tmp, env=env, logs=[tmp / "log-a", tmp / "log-b"]) as both:
        yield both


def test_two_processes_on_one_redis_share_one_budget(regency_dir: Path, shared_budget: str) -> None:
    with serve_two(regency_dir, HUB_REDIS_URL="redis://127.0.0.1:6379/0") as (a, b):
        answers = [httpx.post(f"{(a, b)[i % 2].base}/public/graphql", json=TYPENAME) for i in range(8)]
        assert [r.status_code for r in answers] == [200] * 6 + [429, 429]
        assert [r.headers["ratelimit-remaining"] for r in answers[:6]] == ["5", "4", "3", "2", "1", "0"]
        assert_refused(answers[6], 6)  # served by the first process
        assert_refused(answers[7], 6)  # by the second
        assert int(redis.Redis(host="127.0.0.1", port=6379).get(shared_budget) or 0) == 8


def test_two_processes_without_redis_count_apart(regency_dir: Path) -> None:
    with serve_two(regency_dir) as (a, b):
        answers = [httpx.post(f"{(a, b)[i % 2].base}/public/graphql", json=TYPENAME) for i in range(12)]
        # each process counts its own six
        assert [r.status_code for r in answers] == [200] * 12
        assert answers[-1].headers["ratelimit-remaining"] == "0"
        assert httpx.post(f"{a.base}/public/graphql", json=TYPENAME).status_code == 429


async def test_without_redis_requests_pass_and_one_warning_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # nothing listens on port 1: every count fails, and the hub answers as if unlimited
    settings = {"rate_limit_public": "2/hour", "redis_url": "redis://127.0.0.1:1/0"}
    async with limited_hub(tmp_path, **settings) as hub, client_at(hub, "10.0.0.1") as c:
        for _ in range(4):
            response = await c.post("/public/graphql", json=TYPENAME)
            assert response.status_code == 200, response.text
            assert "ratelimit-limit" not in response.headers
    warned = [r for r in caplog.records if r.name == "hub.ratelimit"]
    assert len(warned) == 1
    assert "not enforced" in warned[0].getMessage()


async def test_hub_serve_refuses_a_bad_limit_by_name(tmp_path: Path) -> None:
    env = hub_env(HUB_RATE_LIMIT_KEY="100/fortnight", PYTHONPATH=str(REPO))
    ran = await run_hub("serve", "--port", "0", cwd=tmp_path, env=env)
    assert ran.code == 2, ran.stderr
    assert "HUB_RATE_LIMIT_KEY: '100/fortnight' is not a rate limit" in ran.stderr
    assert "Traceback" not in ran.stderr
