"""A to-many relationship brings a page at most its target source's max_rows rows
(hub/fetch.py): up to it the lists a page's rows hold, one past it QUERY_TOO_COMPLEX
naming the relationship and the bound, never the rows; and a source is asked for one row
more than the bound, not for every related row (Adapter.lookup's `limit`), on SQLite,
PostgreSQL, MariaDB and across them.

Before the bound, a page of 1,000 rows brought every row related to them, however many:
through a relationship from a coarse key (a kecamatan to its residents) a whole table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.support.regency import Regency
from tests.test_relationship_filters import (
    LAYOUTS,
    MAX_ROWS,
    PEOPLE,
    RECIPIENTS,
    ask,
    bounded,
    error_of,
    on_layout,
)

__all__ = ["bounded"]  # the regency with both sources' max_rows at MAX_ROWS

PAGE = "query($first: Int) { dukcapil { penduduk(first: $first) { nodes { nik penerimaBansos { id } } } } }"
GRANTS = Counter(r["nik"] for r in RECIPIENTS)  # recipients per NIK
NIKS = sorted(p["nik"] for p in PEOPLE)  # the page's order: by key


def _first_pages() -> tuple[int, int]:
    """The longest first page whose residents have at most MAX_ROWS grants together, and
    the shortest whose residents have more."""
    held = 0
    for n, nik in enumerate(NIKS):
        if held + GRANTS[nik] > MAX_ROWS:
            return n, n + 1
        held += GRANTS[nik]
    raise AssertionError("every resident's grants together are within MAX_ROWS")


async def test_up_to_max_rows_related_rows_a_page_past_them_too_complex(bounded: Regency) -> None:
    within, past = _first_pages()
    body = await ask(bounded.hub, "user:tester", PAGE, {"first": within})
    assert "errors" not in body, body
    nodes = body["data"]["dukcapil"]["penduduk"]["nodes"]
    assert [n["nik"] for n in nodes] == NIKS[:within]
    want = {nik: sorted(str(r["id"]) for r in RECIPIENTS if r["nik"] == nik) for nik in NIKS[:within]}
    assert {n["nik"]: sorted(str(g["id"]) for g in n["penerimaBansos"]) for n in nodes} == want
    assert sum(map(len, want.values())) <= MAX_ROWS

    body = await ask(bounded.hub, "user:tester", PAGE, {"first": past})
    error = error_of(body, "dukcapil", "penduduk")
    assert error["extensions"] == {**error["extensions"], "code": "QUERY_TOO_COMPLEX", "limit": "max_rows"}
    assert "penerima_bansos" in error["message"] and f"max_rows ({MAX_ROWS})" in error["message"]


@pytest_asyncio.fixture(scope="module", params=list(LAYOUTS))
async def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Regency]:
    async with on_layout(request.param, tmp_path_factory) as regency:
        yield regency


@pytest.mark.parametrize("limit", [1, 7])
async def test_a_source_answers_at_most_the_rows_asked_for(served: Regency, limit: int) -> None:
    adapter = served.hub.sources.of_dataset["dinsos.penerima_bansos"].adapter
    niks = NIKS[:100]
    every = await adapter.lookup("dinsos.penerima_bansos", "nik", niks, ("id", "nik"))
    assert len(every) == sum(GRANTS[n] for n in niks) > limit
    for _ in range(2):  # the second time from the compiled statement a source keeps
        assert (
            await adapter.lookup("dinsos.penerima_bansos", "nik", niks, ("id", "nik"), limit) == every[:limit]
        )
