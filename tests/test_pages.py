"""The open-data pages (hub/http/pages.py) over HTTP, on the small regency of
tests/support/portal.py, against the rows in Python: the catalog lists exactly what the
public may see; a dataset page its public fields, a preview in key order paged by keyset
links, downloads and an example query that answer; the aggregate page what
/public/graphql answers for the same groups (numbers, noise flags, audit record) as a
table and a proportional SVG chart; refusals, a source that is down and hidden datasets
get error pages, never a 500; values are escaped; pages are cached by ETag and name
nothing outside the hub."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from bs4 import BeautifulSoup

from hub.http.chart import VALUE_ROOM, WIDTH
from hub.http.pages import CHART_BARS, MAX_GROUP_BY, PREVIEW_ROWS
from tests.support.audit import audit_rows
from tests.support.disclosure import published_count
from tests.support.html import coded, page, shown, table, text
from tests.support.portal import BOLD, HIDDEN_TITLE, ODD_PLACE, SCRIPT, SSH_SPEC, Portal, start_portal

SSH_READ = ["kode", "uraian", "satuan", "harga", "berlaku", "aktif"]
OPEN = {"bpkad.ssh", "dinkes.puskesmas", "dukcapil.penduduk"}
GRAPHQL = {"jenis_kelamin": "jenisKelamin"}


@pytest_asyncio.fixture(scope="module")
async def portal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Portal]:
    p = await start_portal(tmp_path_factory.mktemp("pages"))
    yield p
    await p.close()


async def test_home_sends_to_the_catalog(portal: Portal) -> None:
    r = await portal.client.get("/")
    assert r.status_code == 307 and r.headers["location"] == "/public/"


async def test_the_catalog_lists_exactly_the_open_datasets(portal: Portal) -> None:
    r = await portal.client.get("/public/")
    soup = page(r)
    items = {li["data-dataset"]: li for li in soup.select("li.dataset")}
    assert set(items) == OPEN
    assert [text(h) for h in soup.select("section.opd h2")] == [
        "Badan Keuangan Daerah", "Dinas Kesehatan", "Dinas Kependudukan",
    ]  # fmt: skip
    ssh = items["bpkad.ssh"]
    assert text(ssh.a) == SSH_SPEC["title"] and ssh.a["href"] == "/public/bpkad/ssh"
    assert text(ssh.p) == SSH_SPEC["description"]
    licence = ssh.select_one("a[rel=license]")
    assert licence is not None and text(licence) == "CC-BY-4.0"
    assert licence["href"] == "https://creativecommons.org/licenses/by/4.0/"
    assert ssh.time is not None and ssh.time["datetime"] == "2026-11-30"
    penduduk = items["dukcapil.penduduk"]
    assert text(penduduk.a) == "Jumlah Penduduk"
    assert "CC0-1.0" in text(penduduk) and "2026-10-01" in text(penduduk)
    assert "hanya jumlah per kelompok" in text(penduduk)
    assert "hanya jumlah" not in text(ssh) and "dapat diunduh" in text(ssh)
    # the dataset the public sees nothing of leaves no trace: name, title, description
    for word in ("kematian", HIDDEN_TITLE, "Sebab"):
        assert word.lower() not in r.text.lower()


async def test_a_dataset_page_lists_exactly_its_public_fields(portal: Portal) -> None:
    soup = page(await portal.client.get("/public/bpkad/ssh"))
    assert table(soup, "table.fields") == [
        ["kode", "kode", "string", "dibaca", "Kode barang"],
        ["uraian", "uraian", "string", "dibaca", "Nama barang"],
        ["satuan", "satuan", "string", "dibaca", ""],
        ["harga", "harga", "integer", "dibaca", "Harga dalam rupiah"],
        ["berlaku", "berlaku", "date", "dibaca", "Berlaku sejak"],
        ["aktif", "aktif", "boolean", "dibaca", "Masih dibeli"],
        ["kategori", "kategori", "string", "dikelompokkan dan dihitung", "Golongan barang"],
    ]
    soup = page(await portal.client.get("/public/dukcapil/penduduk"))
    assert [row[0] for row in table(soup, "table.fields")] == [
        "kecamatan",
        "jenis_kelamin",
        "pekerjaan",
        "agama",
    ]
    assert {row[3] for row in table(soup, "table.fields")} == {"dikelompokkan dan dihitung"}
    assert soup.select("table.preview") == [] and soup.select("ul.downloads") == []


def no_hidden_values(portal: Portal, html: str) -> None:
    """Nothing of the fields the public may neither read nor count by."""
    for word in ("penyusun", "catatan", "Rahasia", "tersembunyi", "tanggal_lahir", "tanggalLahir", "Sebab"):
        assert word.lower() not in html.lower(), word
    for p in portal.penduduk:
        assert p["nik"] not in html and p["nama"] not in html


async def test_the_preview_pages_through_every_row_once_in_key_order(portal: Portal) -> None:
    want = [[shown(r[f]) for f in SSH_READ] for r in sorted(portal.ssh, key=lambda r: r["kode"])]
    seen: list[list[str]] = []
    sizes = []
    url: str | None = "/public/bpkad/ssh"
    before = await audit_rows(portal.store_url)
    while url is not None:
        r = await portal.client.get(url)
        soup = page(r)
        no_hidden_values(portal, r.text)
        assert [text(th) for th in soup.select("table.preview th")] == SSH_READ
        rows = table(soup, "table.preview")
        sizes.append(len(rows))
        seen += rows
        first = soup.select_one("a[rel=first]")
        assert (first is None) == (len(sizes) == 1)  # every page but the first links back
        nxt = soup.select_one("a[rel=next]")
        url = str(nxt["href"]) if nxt is not None else None
        assert len(sizes) <= 5, "the links do not stop"
    assert sizes == [PREVIEW_ROWS] * 3 + [10]
    # harga is classified internal: each page released it, and each is audited as the API's read
    records = (await audit_rows(portal.store_url))[len(before) :]
    assert [(r.subject, r.datasets, r.rows) for r in records] == [
        ("public", '["bpkad.ssh"]', n) for n in sizes
    ]
    assert seen == want  # every row once, in key order, HTML and NULLs as values
    assert first is not None
    back = page(await portal.client.get(str(first["href"])))
    assert table(back, "table.preview") == want[:PREVIEW_ROWS]


async def test_a_bad_cursor_is_a_400_page(portal: Portal) -> None:
    r = await portal.client.get("/public/bpkad/ssh")
    nxt = page(r).select_one("a[rel=next]")
    assert nxt is not None
    cursor = httpx.URL(str(nxt["href"])).params["after"]
    tampered = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    query = "{ bpkad { ssh(first: 20, orderBy: [{harga: DESC}]) { pageInfo { endCursor } } } }"
    other = (await portal.client.post("/public/graphql", json={"query": query})).json()
    elsewhere = other["data"]["bpkad"]["ssh"]["pageInfo"]["endCursor"]
    for after in ("garbage", tampered, elsewhere, "\x00", "x" * 5000, "é" * 50):
        r = await portal.client.get("/public/bpkad/ssh", params={"after": after})
        soup = page(r, 400)
        assert r.headers["cache-control"] == "no-store"
        assert coded(soup) == "BAD_USER_INPUT" and "cursor" in text(soup)


async def test_the_download_links_and_the_example_query_answer(portal: Portal) -> None:
    soup = page(await portal.client.get("/public/bpkad/ssh"))
    links = [str(a["href"]) for a in soup.select("ul.downloads a")]
    assert links == [f"/public/datasets/bpkad/ssh.{fmt}" for fmt in ("csv", "ndjson", "json")]
    media = ["text/csv", "application/x-ndjson", "application/json"]
    for link, kind in zip(links, media, strict=True):
        r = await portal.client.get(link)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
        no_hidden_values(portal, r.text)
    assert len(r.json()["rows"]) == len(portal.ssh)
    for path, size in (("/public/bpkad/ssh", 10), ("/public/dukcapil/penduduk", None)):
        code = page(await portal.client.get(path)).select_one("pre.query code")
        assert code is not None
        body = (await portal.client.post("/public/graphql", json={"query": code.get_text()})).json()
        assert "errors" not in body, body
        (answer,) = body["data"].values()
        (rows,) = answer.values()
        assert len(rows["nodes"]) == size if size else all(g["perturbed"] for g in rows)


def groups_query(opd: str, dataset: str, by: list[str]) -> str:
    keys = [GRAPHQL.get(f, f) for f in by]
    group = f"group {{ {' '.join(keys)} }} " if by else ""
    selection = f"{group}count perturbed suppressed"
    return f"{{ {opd} {{ {dataset}Aggregate(groupBy: [{', '.join(keys)}]) {{ {selection} }} }} }}"


AUDITED = (
    "subject",
    "client_id",
    "operation",
    "pairs",
    "datasets",
    "rows",
    "records",
    "outcome",
    "disclosure",
)
HIDDEN = "disembunyikan"  # a suppressed group's count
Groups = list[tuple[list[str], str, bool]]  # (keys, count, perturbed) as shown


def audited(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(r, c) for c in AUDITED) for r in rows]


async def page_and_api(
    portal: Portal, opd: str, dataset: str, by: list[str]
) -> tuple[BeautifulSoup, Groups, int]:
    """The aggregate page's groups, checked equal to what /public/graphql answers, with the
    same audit record; and how many records the page wrote."""
    before = await audit_rows(portal.store_url)
    r = await portal.client.get(f"/public/{opd}/{dataset}/agregat", params={"by": by})
    soup = page(r)
    no_hidden_values(portal, r.text)
    after_page = await audit_rows(portal.store_url)
    api = await portal.client.post("/public/graphql", json={"query": groups_query(opd, dataset, by)})
    after_api = await audit_rows(portal.store_url)
    # the same audit record as the API's for the same question, or none when it writes none
    assert audited(after_page[len(before) :]) == audited(after_api[len(after_page) :])
    want = [
        (
            [shown(g["group"][GRAPHQL.get(f, f)]) for f in by],
            HIDDEN if g["suppressed"] else str(g["count"]),
            g["perturbed"],
        )
        for g in api.json()["data"][opd][f"{dataset}Aggregate"]
    ]
    got = []
    for tr in soup.select("table.groups tbody tr"):
        *keys, count = tr.find_all("td")
        mark = count.select_one("span.mark")
        got.append(([text(k) for k in keys], str(count.contents[0]).strip(), mark is not None))
    assert got == want and got
    assert sorted(str(box["value"]) for box in soup.select("input[name=by][checked]")) == sorted(by)
    chart_matches_table(soup, got)
    return soup, got, len(after_page) - len(before)


BY = [
    ("dukcapil", "penduduk", ["kecamatan"]),
    ("dukcapil", "penduduk", ["jenis_kelamin"]),
    ("dukcapil", "penduduk", ["jenis_kelamin", "pekerjaan"]),
    ("dukcapil", "penduduk", ["kecamatan", "pekerjaan", "agama"]),
    ("dukcapil", "penduduk", []),
    ("bpkad", "ssh", ["satuan"]),
    ("bpkad", "ssh", ["kode"]),
    ("bpkad", "ssh", ["aktif", "satuan"]),
]


@pytest.mark.parametrize(("opd", "dataset", "by"), BY, ids=[f"{d}-{'+'.join(b)}" for _, d, b in BY])
async def test_the_aggregate_page_shows_what_the_api_answers(
    portal: Portal, opd: str, dataset: str, by: list[str]
) -> None:
    soup, got, audited_now = await page_and_api(portal, opd, dataset, by)
    rows = portal.penduduk if dataset == "penduduk" else portal.ssh
    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault(tuple(shown(row[f]) for f in by), []).append(row)
    if dataset == "penduduk":  # counted, not read: every count carries the cell key's noise
        ds = portal.hub.catalog.dataset("dukcapil.penduduk")
        small = ds.spec.min_group_size + ds.spec.disclosure.max_noise
        public = [ds.fields[f].classification == "public" for f in by]
        published = [(k, published_count(portal.hub.disclosure_key, ds, v)) for k, v in cells.items()]
        expected = [  # a small group keeps only its public keys; those published as 0 are left out
            ([v if c >= small or p else "—" for v, p in zip(k, public, strict=True)], c)
            for k, c in published
            if c
        ]
        assert sorted((k, int(c)) for k, c, _ in got) == sorted(expected)
        assert all(p for _, _, p in got) and soup.select_one("#disclosure") is not None
        assert audited_now == (0 if by in ([], ["kecamatan"]) else 1)  # internal fields: audited
    else:  # read: exact
        assert sorted((k, int(c)) for k, c, _ in got) == sorted((list(k), len(v)) for k, v in cells.items())
        assert not any(p for _, _, p in got) and soup.select_one("#disclosure") is None


async def test_a_field_given_twice_groups_once(portal: Portal) -> None:
    once = await portal.client.get("/public/dukcapil/penduduk/agregat", params={"by": "kecamatan"})
    twice = await portal.client.get("/public/dukcapil/penduduk/agregat", params={"by": ["kecamatan"] * 4})
    assert once.status_code == twice.status_code == 200
    assert table(page(twice), "table.groups") == table(page(once), "table.groups") != []


async def test_suppressed_groups_are_shown_as_hidden_without_a_bar(portal: Portal) -> None:
    """bpkad.ssh suppresses groups below 5 for whoever may not read kategori: Langka has 3."""
    soup, got, audited_now = await page_and_api(portal, "bpkad", "ssh", ["kategori"])
    sizes = Counter(r["kategori"] for r in portal.ssh)
    assert sorted(got) == sorted(
        ([k], str(n), False) if n >= 5 else (["—"], HIDDEN, False) for k, n in sizes.items()
    )  # a small group's non-public key is left out, as its count
    assert "Langka" not in soup.get_text()
    assert len(soup.select("svg g.bar")) == len(sizes) - 1
    assert soup.select_one("#suppressed") is not None and soup.select_one("#disclosure") is None
    assert audited_now == 1


def chart_matches_table(soup: BeautifulSoup, shown: Groups) -> None:
    """One bar per group with a count (the first CHART_BARS), labelled as the table, as
    long as its count."""
    got = [g for g in shown if g[1] != HIDDEN]
    bars = soup.select("svg g.bar")
    assert len(bars) == min(len(got), CHART_BARS)
    top = max(int(c) for _, c, _ in got[:CHART_BARS])
    full = WIDTH - VALUE_ROOM
    for bar, (keys, count, _) in zip(bars, got, strict=False):
        assert text(bar.select_one("text.label") or bar) == (" / ".join(keys) or "Semua")
        assert abs(float(str(bar.rect["width"])) - int(count) / top * full) < 0.06  # type: ignore[index]
    assert max(float(str(b.rect["width"])) for b in bars) == full  # type: ignore[index]
    caption = soup.select_one("figure.chart figcaption")
    assert (caption is not None) == (len(got) > CHART_BARS)
    if caption is not None:
        assert f"{CHART_BARS} kelompok pertama" in text(caption) and str(len(got)) in text(caption)


@pytest.mark.parametrize(
    "by",
    [["nik"], ["tanggal_lahir"], ["tidak_ada"], [""], ["kecamatan", "jenis_kelamin", "pekerjaan", "agama"]],
    ids=["not public", "no access", "unknown", "empty", "too many"],
)
async def test_a_group_the_public_may_not_ask_for_is_a_400_page(portal: Portal, by: list[str]) -> None:
    assert len(by) == 1 or len(by) > MAX_GROUP_BY
    before = await audit_rows(portal.store_url)
    r = await portal.client.get("/public/dukcapil/penduduk/agregat", params={"by": by})
    assert coded(page(r, 400)) == "BAD_USER_INPUT"
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    assert await audit_rows(portal.store_url) == before
    if len(by) == 1 and by[0]:  # a field the public may not use is refused as one that does not exist
        unknown = await portal.client.get("/public/dukcapil/penduduk/agregat", params={"by": "tidak_ada"})
        assert r.text.replace(by[0], "X") == unknown.text.replace("tidak_ada", "X")


async def test_a_hidden_dataset_is_not_found_as_one_that_does_not_exist(portal: Portal) -> None:
    for suffix in ("", "/agregat"):
        hidden = await portal.client.get(f"/public/dukcapil/kematian{suffix}")
        missing = await portal.client.get(f"/public/dukcapil/tiada{suffix}")
        assert coded(page(hidden, 404)) == coded(page(missing, 404)) == "BAD_USER_INPUT"
        assert hidden.text.replace("kematian", "X") == missing.text.replace("tiada", "X")
        assert hidden.headers["cache-control"] == "no-store"
        assert HIDDEN_TITLE not in hidden.text and "Sebab" not in hidden.text


async def test_a_source_that_is_down_is_a_503_page(portal: Portal) -> None:
    for path in ("/public/dinkes/puskesmas", "/public/dinkes/puskesmas/agregat?by=nama"):
        r = await portal.client.get(path)
        soup = page(r, 503)
        assert r.headers["cache-control"] == "no-store"
        assert coded(soup) == "SOURCE_UNAVAILABLE" and "unavailable" in text(soup)
        for leak in ("127.0.0.1", "asyncpg", "ConnectionRefused", "Errno"):
            assert leak not in r.text
    # the rest of the portal does not depend on it
    catalog = page(await portal.client.get("/public/"))
    assert catalog.select_one("li[data-dataset='dinkes.puskesmas']") is not None
    page(await portal.client.get("/public/bpkad/ssh"))


async def test_catalog_text_and_values_are_escaped(portal: Portal) -> None:
    for path in ("/public/", "/public/bpkad/ssh", "/public/bpkad/ssh/agregat?by=uraian"):
        r = await portal.client.get(path)
        soup = page(r)
        assert soup.find_all("script") == [] and "<script>" not in r.text
        assert SCRIPT in text(soup)  # shown as text
    assert soup.find_all("b") == [] and BOLD in [text(td) for td in soup.select("table.groups td")]
    assert BOLD in [text(t) for t in soup.select("svg text.label")]
    r = await portal.client.get("/public/dukcapil/penduduk/agregat?by=kecamatan")
    soup = page(r)
    assert ODD_PLACE in [text(t) for t in soup.select("svg text.label")]
    assert "A&amp;B &lt;Pulau&gt;" in r.text and ODD_PLACE not in r.text


CACHED = [
    "/public/",
    "/public/bpkad/ssh",
    "/public/dukcapil/penduduk/agregat?by=kecamatan",
    "/static/portal.css",
]


@pytest.mark.parametrize("path", CACHED)
async def test_pages_are_cached_by_etag(portal: Portal, path: str) -> None:
    r = await portal.client.get(path)
    assert r.status_code == 200
    tag = r.headers["etag"]
    assert tag.startswith('"') and r.headers["cache-control"].startswith("public, max-age=")
    for asked in (tag, f"W/{tag}", "*", f'"something-else", {tag}'):
        again = await portal.client.get(path, headers={"if-none-match": asked})
        assert again.status_code == 304 and again.content == b"", asked
        assert again.headers["etag"] == tag
    fresh = await portal.client.get(path, headers={"if-none-match": '"something-else"'})
    assert fresh.status_code == 200 and fresh.content == r.content


async def test_each_page_has_its_own_etag_and_errors_are_not_stored(portal: Portal) -> None:
    paths = [*CACHED, "/public/dukcapil/penduduk", "/public/dukcapil/penduduk/agregat?by=agama"]
    tags = [(await portal.client.get(p)).headers["etag"] for p in paths]
    assert len(set(tags)) == len(paths)
    for path in ("/public/dukcapil/kematian", "/public/bpkad/ssh?after=x", "/public/dinkes/puskesmas"):
        r = await portal.client.get(path, headers={"if-none-match": "*"})
        assert r.status_code in (400, 404, 503) and r.headers["cache-control"] == "no-store"


async def test_pages_name_nothing_outside_the_hub(portal: Portal) -> None:
    paths = [
        "/public/",
        "/public/bpkad/ssh",
        "/public/dukcapil/penduduk",
        "/public/bpkad/ssh/agregat?by=satuan",
    ]
    for path in paths:
        soup = page(await portal.client.get(path))
        assert [str(s["href"]) for s in soup.select("link[rel=stylesheet]")] == ["/static/portal.css"]
        assert soup.find_all(["script", "img", "iframe", "object", "embed", "style"]) == []
        for el in soup.find_all(attrs={"src": True}) + soup.find_all(attrs={"href": True}):
            ref = str(el.get("src") or el.get("href"))
            if ref.startswith(("http://", "https://")):
                assert el.name == "a" and el.get("rel") == ["license"], ref
            else:
                assert ref.startswith("/") and not ref.startswith("//"), ref
        for el in soup.find_all(style=True):
            assert "url(" not in str(el["style"])
    css = (await portal.client.get("/static/portal.css")).text
    assert "url(" not in css and "@import" not in css


def test_the_oracle_has_the_awkward_cases() -> None:
    """The regency holds what the tests above rely on: NULLs, HTML and a small group."""
    from tests.support.portal import penduduk_rows, ssh_rows

    rows = ssh_rows()
    assert any(r["satuan"] is None for r in rows) and any(r["uraian"] == BOLD for r in rows)
    assert len(rows) > CHART_BARS and min(Counter(r["kategori"] for r in rows).values()) < 5
    assert any(r["kecamatan"] == ODD_PLACE for r in penduduk_rows())


async def test_an_opd_page_lists_only_its_open_datasets(portal: Portal) -> None:
    soup = page(await portal.client.get("/public/dukcapil"))
    assert [li["data-dataset"] for li in soup.select("li.dataset")] == ["dukcapil.penduduk"]
    assert HIDDEN_TITLE not in str(soup)


@pytest.mark.parametrize("path", ["/public/kosong", "/public/a/b/c/d", "/public/datasets"])
async def test_any_other_public_path_is_a_404_page(portal: Portal, path: str) -> None:
    r = await portal.client.get(path)
    assert coded(page(r, 404)) == "BAD_USER_INPUT"
    assert r.headers["cache-control"] == "no-store"
