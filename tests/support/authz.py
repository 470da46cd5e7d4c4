"""A test regency with a catalog and policy of the test's own, and clients per subject."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from hub.http.app import Hub, create_app
from hub.store import clients
from tests.support.databases import ScratchDatabase
from tests.support.regency import (
    PENDUDUK,
    PENERIMA,
    Regency,
    load,
    make_rows,
    start_hub,
    write_catalog,
    write_policies,
)


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not in the catalog exactly once"
    return text.replace(old, new)


async def start_variant(tmp: Path, rules: str, edit: Callable[[str], str] = lambda t: t) -> Regency:
    """The test regency on SQLite, with `edit` applied to dukcapil.yaml and `rules` as
    policy.csv. Its client holds a key for `user:tester`."""
    people, recipients = make_rows()
    a = await ScratchDatabase("sqlite", tmp).create()
    b = await ScratchDatabase("sqlite", tmp).create()
    await load(a.url, PENDUDUK, people)
    await load(b.url, PENERIMA, recipients)
    write_catalog(tmp / "schema", a.url, b.url)
    dukcapil = tmp / "schema" / "dukcapil.yaml"
    dukcapil.write_text(edit(dukcapil.read_text()))
    write_policies(tmp / "policies", rules)
    hub, client = await start_hub(tmp)
    return Regency("sqlite", hub, client, people, recipients, [a, b])


def http_client(hub: Hub, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(hub=hub)), base_url="http://hub", headers=headers
    )


async def client_for(hub: Hub, subject: str) -> httpx.AsyncClient:
    """A client holding a fresh key for `subject`."""
    issued = await clients.create(hub.store, subject)
    return http_client(hub, issued.key)
