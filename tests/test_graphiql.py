"""GraphiQL from the hub itself (hub/http/ide.py): the page names only the hub's own
files, those files are served (gzipped to whoever accepts it) and cached by version,
and in a real Chromium the page loads, asks the endpoint for its schema and shows it,
with every request it makes going to the hub on 127.0.0.1."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import httpx
import pytest

from hub.http.ide import FILES, PREFIX, START, STATIC, VERSION
from tests.support.browser import hub_page
from tests.support.hubcli import Running
from tests.support.regency import Regency

HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize("path", ["/graphql", "/public/graphql"])
async def test_the_page_names_only_the_hubs_own_files(sqlite_regency: Regency, path: str) -> None:
    r = await sqlite_regency.client.get(path, headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    named = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sorted(named) == sorted(PREFIX + f for f in (*FILES, START))
    assert "<script>" not in r.text  # every script is a file of the hub's
    assert "//" not in "".join(named)


@pytest.mark.parametrize("name", [*FILES, START])
async def test_each_file_is_served_gzipped_and_cached_by_version(sqlite_regency: Regency, name: str) -> None:
    client = sqlite_regency.client
    zipped = await client.get(PREFIX + name, headers={"accept-encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["cache-control"] == "public, max-age=31536000, immutable"
    kind = "text/css" if name.endswith(".css") else "text/javascript"
    assert zipped.headers["content-type"].startswith(kind)
    plain = await client.get(PREFIX + name, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == zipped.content  # httpx unzipped the first
    if name != START:
        assert plain.content == gzip.decompress((STATIC / f"{name}.gz").read_bytes())
        assert len(plain.content) > 4_000


@pytest.mark.parametrize(
    "path",
    [
        f"/static/graphiql/0.0.1/{FILES[0]}",
        f"{PREFIX}secret.txt",
        f"{PREFIX}..%2Fide.py",
        f"{PREFIX}README.md",
    ],
    ids=["another version", "no such file", "outside", "not a served file"],
)
async def test_nothing_else_is_served(sqlite_regency: Regency, path: str) -> None:
    r = await sqlite_regency.client.get(path)
    assert r.status_code == 404


# ----- in a real browser -----


async def test_graphiql_loads_and_shows_the_schema_in_chromium(served_demo: Running, tmp_path: Path) -> None:
    demo = served_demo
    asked: list[tuple[str, int]] = []
    async with hub_page(demo.base) as (page, elsewhere):
        page.on(
            "response",
            lambda r: asked.append((r.url, r.status)) if r.request.method == "POST" else None,
        )
        await page.goto(demo.base + "/public/graphql")
        await page.wait_for_selector(".graphiql-container", timeout=20_000)
        # GraphiQL asks the endpoint for its schema; the docs explorer then lists its types
        await page.click("button[aria-label='Show Documentation Explorer']", timeout=20_000)
        await page.wait_for_selector("text=BappedaQuery", timeout=20_000)
        # a query typed into the editor and run answers in the result pane
        await page.evaluate(
            "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
            ".setValue('{ me { id } }')"
        )
        await page.click(".graphiql-execute-button")
        result = page.locator(".result-window")
        await result.get_by_text('"public"').wait_for(timeout=20_000)
        await page.screenshot(path=str(tmp_path / "graphiql.png"))
        assert (tmp_path / "graphiql.png").stat().st_size > 10_000
    assert not elsewhere, elsewhere
    assert (demo.base + "/public/graphql", 200) in asked, asked
    assert VERSION in (await _page(demo)).text


async def _page(demo: Running) -> httpx.Response:
    async with httpx.AsyncClient() as c:
        return await c.get(demo.base + "/public/graphql", headers=HTML)
