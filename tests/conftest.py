from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.support import node
from tests.support.authz import Town, started_town
from tests.support.browser import served_demo as serve_demo
from tests.support.databases import BACKENDS
from tests.support.hubcli import Running
from tests.support.regency import Regency, start_regency


@pytest_asyncio.fixture(scope="session", params=BACKENDS)
async def regency(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Regency]:
    """The test regency on each backend: SQLite, PostgreSQL and MariaDB."""
    r = await start_regency(request.param, tmp_path_factory.mktemp(request.param))
    yield r
    await r.close()


@pytest_asyncio.fixture(scope="session")
async def sqlite_regency(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Regency]:
    """The test regency on SQLite alone, for behaviour that does not depend on the backend."""
    r = await start_regency("sqlite", tmp_path_factory.mktemp("sqlite-only"))
    yield r
    await r.close()


@pytest_asyncio.fixture(scope="module")
async def town(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Town]:
    """The authorization tests' regency, policy and subjects (tests/support/authz.py),
    one per test module."""
    async with started_town(tmp_path_factory.mktemp("authz")) as started:
        yield started


@pytest.fixture(scope="session")
def served_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """`hub demo --residents 500` served on a free port, generated once for the browser
    tests (tests/test_graphiql.py, tests/test_portal_browser.py)."""
    with serve_demo(tmp_path_factory.mktemp("served-demo")) as run:
        yield run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the audit and the fuzzer counted: graphql-http's audit of GraphQL over HTTP
    (tests/test_graphql_over_http.py) and the fuzz profile (tests/test_fuzz.py)."""
    if node.SUMMARY:
        terminalreporter.section("GraphQL-over-HTTP audit and fuzzing")
        for line in node.SUMMARY:
            terminalreporter.write_line(line)
