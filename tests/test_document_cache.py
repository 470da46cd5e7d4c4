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

from hub.gql.service import DOCUMENT_CACHE_CHARS
from tests.support.regency import Regency


def big_query(n: int) -> str:
    """~4,800 tokens and ~24,000 characters: refused (too many aliases) after parsing."""
    return "{ " + " ".join(f"q{n}_{k}: __typename" for k in range(1600)) + " }"


def objects() -> int:
    gc.collect()
    return len(gc.get_objects())


async def test_distinct_large_queries_do_not_pile_up_in_the_hub(sqlite_regency: Regency) -> None:
    client = sqlite_regency.client
    sent = 120
    before = objects()
    for n in range(sent):
        r = await client.post("/public/graphql", json={"query": big_query(n)})
        assert r.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    grown = objects() - before
    per_document = 9_000  # a low estimate of the objects one parsed big_query holds (~14,000)
    bound = (DOCUMENT_CACHE_CHARS // len(big_query(0)) + 20) * per_document
    assert sent * per_document > 2 * bound  # the queries sent would exceed it twice, kept
    assert grown < bound, grown


async def test_a_repeated_query_is_still_parsed_once(sqlite_regency: Regency) -> None:
    service = sqlite_regency.hub.public_graphql()
    query = "{ catalog { opds { id } } }"
    assert service.document(query) is service.document(query)
