"""The parsed-document cache is bounded by the size of what it holds, not only by count.

Every distinct query text is parsed once and its document (or the errors that refused
it, which point into the document) kept for the next request. Counted alone, 1,000
anonymous requests of 4,900 tokens each held ~890 MB in the hub: six million objects
whose full garbage collection stopped the event loop for ~5 s at a time, long enough
for requests in flight to pass their sources' timeouts and, five times over, to open a
source's breaker. The cache now also holds at most `DOCUMENT_CACHE_CHARS` of query text.
"""

from __future__ import annotations

import gc
import re

from hub.gql.service import DOCUMENT_CACHE_CHARS, _Lru
from tests.support.regency import Regency


def big_query(n: int) -> str:
    """~4,800 tokens and ~24,000 characters: refused (too many aliases) after parsing."""
    return "{ " + " ".join(f"q{n}_{k}: __typename" for k in range(1600)) + " }"


def objects() -> int:
    gc.collect()
    return len(gc.get_objects())


async def test_distinct_large_queries_do_not_pile_up_in_the_hub(sqlite_regency: Regency) -> None:
    client = sqlite_regency.client
    sent = 70  # each sent twice
    before = objects()
    for n in range(sent):
        for _ in range(2):  # the second request is the one kept (adapters/admission.py)
            r = await client.post("/public/graphql", json={"query": big_query(n)})
            assert r.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    grown = objects() - before
    per_document = 9_000  # a low estimate of the objects one parsed big_query holds (~14,000)
    bound = (DOCUMENT_CACHE_CHARS // len(big_query(0)) + 20) * per_document
    assert sent * per_document > 2 * bound  # the queries sent would exceed it twice, kept
    assert grown < bound, grown


async def test_a_query_is_kept_from_its_second_request(sqlite_regency: Regency) -> None:
    service = sqlite_regency.hub.public_graphql()
    query = "{ catalog { opds { id } } }"
    first, second = service.document(query), service.document(query)
    assert first is not second  # asked once: parsed and let go
    assert service.document(query) is second  # asked again: kept


async def test_queries_asked_once_are_not_kept(sqlite_regency: Regency) -> None:
    """A flood of distinct queries, each asked once (a fuzzer, an adversary), leaves the
    caches as they were, and what real clients repeat stays kept."""
    client = sqlite_regency.client
    service = sqlite_regency.hub.graphql
    repeated = "{ me { id } }"
    for _ in range(2):
        await client.post("/graphql", json={"query": repeated})
    kept = service.document(repeated)
    before = {name: (len(c), c.held) for name, c in service.caches().items()}
    for n in range(200):
        r = await client.post("/graphql", json={"query": f"{{ me {{ id }} a{n}: me {{ id }} }}"})
        assert r.status_code == 200 and r.json()["data"]["me"]["id"]
    assert {name: (len(c), c.held) for name, c in service.caches().items()} == before
    assert service.document(repeated) is kept


def test_a_full_cache_counts_what_it_drops() -> None:
    """Over its entry bound or its character bound, the oldest entries go, counted."""
    kept = _Lru(2, 10)
    for key in ("a", "b", "a", "c"):  # "a" used again: "b" is the oldest when "c" comes
        kept.put(key, key)
    assert list(kept) == ["a", "c"] and kept.evicted == 1
    kept.put("0123456789", "long")  # 10 characters: only it fits in 10
    assert list(kept) == ["0123456789"] and kept.held == 10 and kept.evicted == 3


async def test_metrics_show_a_full_cache(sqlite_regency: Regency) -> None:
    """Past its bound, /metrics shows the public documents cache holding at most its
    characters and counting what it dropped: how an operator (and bench/soak.py) knows
    the cache has stopped growing."""
    client = sqlite_regency.client
    for n in range(DOCUMENT_CACHE_CHARS // len(big_query(0)) + 5):
        for _ in range(2):
            await client.post("/public/graphql", json={"query": big_query(n)})
    text = (await client.get("/metrics")).text

    def value(name: str) -> float:
        m = re.search(rf'{name}{{cache="documents",schema="public"}} ([0-9.e+]+)', text)
        assert m, name
        return float(m.group(1))

    assert (
        DOCUMENT_CACHE_CHARS - len(big_query(0)) < value("hub_document_cache_chars") <= DOCUMENT_CACHE_CHARS
    )
    assert value("hub_document_cache_evictions_total") >= 5
