"""The open-data pages in a real Chromium (tests/support/browser.py) on the served demo:
the catalog at a phone's width lists the datasets the public API's catalog names and
does not scroll sideways; a dataset page pages its preview with "Berikutnya"; the
aggregate form, ticked and submitted, draws one bar per group of its table. Each page
is photographed, and no request leaves the hub."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.browser import hub_page
from tests.support.hubcli import Running

if TYPE_CHECKING:
    from playwright.async_api import Page

PHONE = {"width": 375, "height": 800}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
# the CSS pixels of the chart's labels as drawn: their font size times the SVG's scale
LABEL_PX = """() => {
  const svg = document.querySelector('svg.chart'), label = svg.querySelector('text.label');
  return svg.getBoundingClientRect().width / svg.viewBox.baseVal.width * parseFloat(getComputedStyle(label).fontSize);
}"""


async def public_datasets(demo: Running) -> set[str]:
    """What the public API's catalog names: the datasets the portal must list."""
    query = "{ catalog { opds { id datasets { id } } } }"
    async with httpx.AsyncClient() as c:
        body = (await c.post(demo.base + "/public/graphql", json={"query": query})).json()
    return {
        f"{o['id']}.{d['id'].rsplit('.', 1)[-1]}"
        for o in body["data"]["catalog"]["opds"]
        for d in o["datasets"]
    }


async def photograph(page: Page, path: Path) -> None:
    shot = await page.screenshot(path=str(path), full_page=True)  # also written to `path`
    assert len(shot) > 10_000, path


async def cells(page: Page, css: str) -> list[list[str]]:
    rows: list[list[str]] = await page.eval_on_selector_all(
        f"{css} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return rows


async def test_the_catalog_fits_a_phone_and_lists_the_open_datasets(
    served_demo: Running, tmp_path: Path
) -> None:
    demo = served_demo
    want = await public_datasets(demo)
    assert {"bpkad.ssh", "dukcapil.penduduk", "dinkes.puskesmas"} <= want
    async with hub_page(demo.base, **PHONE) as (page, elsewhere):
        styles: list[int] = []
        page.on("response", lambda r: styles.append(r.status) if r.url.endswith("/portal.css") else None)
        response = await page.goto(demo.base + "/")  # sent on to /public/
        assert response is not None and response.status == 200 and page.url == demo.base + "/public/"
        listed = await page.eval_on_selector_all("li.dataset", "items => items.map(i => i.dataset.dataset)")
        assert set(listed) == want and len(listed) == len(want)
        assert await page.evaluate(NO_SIDEWAYS_SCROLL), await page.evaluate(
            "document.documentElement.scrollWidth"
        )
        aggregate_only = await page.locator("li[data-dataset='dukcapil.penduduk']").inner_text()
        assert "hanya jumlah per kelompok" in aggregate_only
        await photograph(page, tmp_path / "catalog.png")
    assert styles == [200]
    assert not elsewhere, elsewhere


async def test_a_dataset_page_pages_its_preview(served_demo: Running, tmp_path: Path) -> None:
    demo = served_demo
    async with hub_page(demo.base, **PHONE) as (page, elsewhere):
        await page.goto(demo.base + "/public/")
        await page.click("li[data-dataset='bpkad.ssh'] a")
        await page.wait_for_url(demo.base + "/public/bpkad/ssh")
        first = await cells(page, "table.preview")
        assert len(first) == 20
        assert await page.evaluate(NO_SIDEWAYS_SCROLL)  # wide tables scroll in their own box
        await page.get_by_text("Berikutnya").click()
        await page.wait_for_url("**/public/bpkad/ssh?after=*")
        second = await cells(page, "table.preview")
        assert second and not set(map(tuple, second)) & set(map(tuple, first))
        await photograph(page, tmp_path / "dataset.png")
        await page.get_by_text("Halaman pertama").click()
        await page.wait_for_url(demo.base + "/public/bpkad/ssh#pratinjau")
        assert await cells(page, "table.preview") == first
    assert not elsewhere, elsewhere


async def test_the_aggregate_form_draws_a_bar_per_group(served_demo: Running, tmp_path: Path) -> None:
    demo = served_demo
    async with hub_page(demo.base, **PHONE) as (page, elsewhere):
        await page.goto(demo.base + "/public/dukcapil/penduduk/agregat")
        assert await page.locator("svg.chart g.bar").count() == 1  # everyone, one bar
        await page.check("input[name=by][value=kecamatan]")
        await page.check("input[name=by][value=jenis_kelamin]")
        await page.get_by_role("button", name="Hitung").click()
        await page.wait_for_url(lambda url: "/agregat?by=" in url)
        assert sorted(httpx.URL(page.url).params.get_list("by")) == ["jenis_kelamin", "kecamatan"]
        await page.wait_for_selector("svg.chart g.bar")
        rows = await cells(page, "table.groups")
        assert len(rows) > 2
        assert await page.locator("svg.chart g.bar").count() == len(rows)
        labels = await page.locator("svg.chart text.label").all_text_contents()
        assert labels == [" / ".join(r[:2]) for r in rows]
        assert all(r[2].endswith("*") for r in rows)  # counted, not read: every count carries noise
        assert await page.evaluate(NO_SIDEWAYS_SCROLL)
        assert await page.evaluate(LABEL_PX) >= 11  # readable on the phone, not shrunk with the chart
        await photograph(page, tmp_path / "aggregate.png")
        await page.set_viewport_size({"width": 1280, "height": 800})
        assert 11 <= await page.evaluate(LABEL_PX) <= 20  # nor blown up on a wide screen
    assert not elsewhere, elsewhere
