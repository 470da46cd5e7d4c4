"""Reading the open-data pages in tests (tests/test_pages.py) with BeautifulSoup: a
response as a page (status, media type, no traceback), an element's text with its
whitespace folded, a table's cells, an error page's code, and a value as the pages show
it.

Example:
    >>> soup = page(await client.get("/public/bpkad/ssh"))
    >>> table(soup, "table.preview")[0]
    ['SSH-001', 'Barang nomor 1', 'unit', '1500', '2026-01-02', 'ya']
"""

from __future__ import annotations

from typing import Any

import httpx
from bs4 import BeautifulSoup, Tag


def page(r: httpx.Response, status: int = 200) -> BeautifulSoup:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "Traceback" not in r.text
    return BeautifulSoup(r.text, "html.parser")


def text(el: Tag) -> str:
    return " ".join(el.get_text(" ", strip=True).split())


def shown(v: Any) -> str:
    """A value as the pages show it: NULL a dash, a boolean in Indonesian."""
    if isinstance(v, bool):
        return "ya" if v else "tidak"
    return "—" if v is None else str(v)


def coded(soup: BeautifulSoup) -> str:
    """An error page's code, as the API's `extensions.code`: in its markup and its text."""
    error = soup.select_one("p.error")
    assert error is not None
    code = str(error["data-code"])
    assert code in text(soup.main or soup).replace(text(error), "")
    return code


def table(soup: BeautifulSoup, css: str) -> list[list[str]]:
    return [[text(td) for td in tr.find_all("td")] for tr in soup.select(f"{css} tbody tr")]
