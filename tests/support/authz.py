"""A test regency with a catalog and policy of the test's own, and clients per subject."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.http.app import Hub, create_app
from hub.store import clients
from tests.support.catalogs import Spec
from tests.support.regency import Regency, start_regency, write_policies


async def start_variant(tmp: Path, rules: str, residents: Spec | None = None) -> Regency:
    """The test regency on SQLite, with `residents` as Dukcapil's dataset (`penduduk()`
    unless given) and `rules` as policy.csv. Its client holds a key for `user:tester`."""
    write_policies(tmp / "policies", rules)
    return await start_regency("sqlite", tmp, residents=residents)


def http_client(hub: Hub, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(hub=hub)), base_url="http://hub", headers=headers
    )


async def client_for(hub: Hub, subject: str) -> httpx.AsyncClient:
    """A client holding a fresh key for `subject`."""
    issued = await clients.create(hub.store, subject)
    return http_client(hub, issued.key)
