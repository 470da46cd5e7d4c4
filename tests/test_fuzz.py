"""Fuzzing in the suite: hypothesis-graphql's queries from each endpoint's own schema, for the
public, an owner, a match-only and an aggregate-only caller (tests/support/fuzz.py holds the
promises each answer is held to). This is the short, derandomized profile; `bench/fuzz.py`
runs the long one. HUB_FUZZ_EXAMPLES sets the examples per caller (default 100)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from hub.http.app import create_app
from tests.support import node
from tests.support.demo import demo_regency
from tests.support.fuzz import SUBJECTS, Tally, Target, start_demo_hub
from tests.support.servers import serve

EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "100"))
RESIDENTS = 600


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with demo_regency(tmp_path_factory.mktemp("fuzz-demo")) as data_dir:  # start_demo_hub generates it
        yield data_dir


@pytest_asyncio.fixture(scope="module")
async def target(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    hub, callers = await start_demo_hub(demo_dir, tmp_path_factory.mktemp("fuzz-hub"), RESIDENTS)
    try:
        async with serve(create_app(hub=hub)) as base:
            t = Target(hub, base, callers)
            try:
                await asyncio.to_thread(t.introspect)
                yield t
            finally:
                t.close()
    finally:
        await hub.close()


@pytest.mark.parametrize("name", list(SUBJECTS))
async def test_generated_queries_keep_every_promise(target: Target, name: str) -> None:
    caller = target.callers[name]
    assert caller.secrets, "the oracle found nothing this caller may not read"
    tally = Tally()
    try:
        await asyncio.to_thread(target.fuzz, caller, EXAMPLES, tally, stop=True, derandomize=True)
    finally:
        node.SUMMARY.append(tally.line(f"fuzz {name} ({caller.path})"))
    assert tally.requests >= EXAMPLES
    # both sides were exercised: answers without errors and coded refusals
    assert tally.codes["-"] > 0 and tally.codes["BAD_USER_INPUT"] > 0, tally.line(name)


async def test_the_checks_catch_a_leak_and_an_internal_error(target: Target) -> None:
    """The promises can fail: the owner's own answer, judged as the matcher's, leaks."""
    owner, matcher = target.callers["owner"], target.callers["matcher"]
    query = "{ dukcapil { penduduk(first: 3) { nodes { nik nama } } } }"
    answer = await asyncio.to_thread(target.post, owner, query)
    assert target.problems(owner, query, answer, Tally()) == []
    problems = target.problems(matcher, query, answer, Tally())
    assert len(problems) == 1 and "may not read" in problems[0], problems
    internal = httpx.Response(
        200, json={"data": None, "errors": [{"message": "x", "extensions": {"code": "INTERNAL"}}]}
    )
    assert target.problems(owner, query, internal, Tally()) == ["error coded INTERNAL: x"]
