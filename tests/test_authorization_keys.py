"""API keys against a real hub on SQLite (docs/design.md §5): a key that is missing,
malformed, wrong, revoked or expired gets 401 UNAUTHENTICATED, a revoked one at once;
`hub clients create|list|revoke` issue, list and revoke them without printing a key
twice."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import sqlalchemy as sa

from hub.store import clients
from hub.store.db import Client
from tests.support.authz import Town
from tests.support.hubcli import hub_env, run_hub
from tests.support.regency import http_client

ME = {"query": "{ me { id } }"}


async def assert_unauthenticated(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json=ME)
    assert r.status_code == 401, r.text
    assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_graphql_without_a_valid_key_is_401(town: Town) -> None:
    hub = town.regency.hub
    wrong_secret = (await clients.create(hub.store, "user:s1")).key[:-6] + "AAAAAA"
    for key in (None, "", "not-a-key", "hub_0123456789abcdef_" + "A" * 43, wrong_secret):
        async with http_client(hub, key) as client:
            await assert_unauthenticated(client)
    async with http_client(hub) as client:  # a key in another scheme
        client.headers["Authorization"] = "Basic dXNlcjpwYXNz"
        await assert_unauthenticated(client)


async def test_a_revoked_key_fails_at_once(town: Town) -> None:
    hub = town.regency.hub
    issued = await clients.create(hub.store, "user:s2")
    async with http_client(hub, issued.key) as client:
        r = await client.post("/graphql", json=ME)
        assert r.json() == {"data": {"me": {"id": "user:s2"}}}
        assert await clients.revoke(hub.store, issued.id)
        await assert_unauthenticated(client)


async def test_an_expired_key_fails(town: Town) -> None:
    hub = town.regency.hub
    expired = await clients.create(hub.store, "user:s3", expires_days=-1)
    async with http_client(hub, expired.key) as client:
        await assert_unauthenticated(client)
    expiring = await clients.create(hub.store, "user:s3", expires_days=1)
    async with http_client(hub, expiring.key) as client:
        assert (await client.post("/graphql", json=ME)).status_code == 200
        async with hub.store.begin() as conn:  # the day has passed
            past = clients.now() - dt.timedelta(seconds=1)
            await conn.execute(sa.update(Client).where(Client.id == expiring.id).values(expires_at=past))
        await assert_unauthenticated(client)


async def test_hub_clients_create_list_revoke(town: Town) -> None:
    env = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{town.tmp / 'hub.db'}")
    created = await run_hub("clients", "create", "opd:dinsos", "--name", "cli test", cwd=town.tmp, env=env)
    assert created.code == 0, created
    m = re.fullmatch(r"(hub_([0-9a-f]{16})_[A-Za-z0-9_-]{43})\n", created.stdout)
    assert m, created.stdout  # the key alone on stdout
    key, client_id = m.groups()
    assert f"id: {client_id}" in created.stderr.splitlines()
    assert key not in created.stderr

    listed = await run_hub("clients", "list", cwd=town.tmp, env=env)
    assert listed.code == 0, listed
    (line,) = [ln for ln in listed.stdout.splitlines() if ln.startswith(client_id)]
    assert line.split("\t")[1:3] == ["opd:dinsos", "cli test"]
    assert line.endswith("active")
    assert key not in listed.stdout

    async with http_client(town.regency.hub, key) as client:
        assert (await client.post("/graphql", json=ME)).json() == {"data": {"me": {"id": "opd:dinsos"}}}
        revoked = await run_hub("clients", "revoke", client_id, cwd=town.tmp, env=env)
        assert revoked.code == 0, revoked
        await assert_unauthenticated(client)
    again = await run_hub("clients", "revoke", client_id, cwd=town.tmp, env=env)
    assert again.code == 1  # no active client by that id any more
