"""A real Chromium for the browser tests (tests/test_graphiql.py,
tests/test_portal_browser.py): Debian's `chromium` driven by Playwright through
`executable_path` (Playwright's own browser download is not used), and a page whose
every request must go to the hub under test: anything else is aborted and recorded.

Example:
    >>> async with hub_page(demo.base, width=375, height=800) as (page, elsewhere):
    ...     await page.goto(demo.base + "/public/")
    >>> assert not elsewhere
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.hubcli import Running, hub_env, running_hub

if TYPE_CHECKING:
    from playwright.async_api import Page


def chromium() -> str:
    """Debian's chromium; skips (fails under HUB_REQUIRE_SERVICES=1) when it or
    Playwright is missing."""
    found = shutil.which("chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        reason = "playwright is not installed"
    else:
        reason = "chromium is not on PATH (apt-get install chromium)"
        if found:
            return found
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + "; HUB_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def served_demo(cwd: Path) -> Iterator[Running]:
    """`hub demo` with 500 residents, generated in `cwd` and served on a free port, running
    this checkout's code (PYTHONPATH) even when the `hub` command was installed from
    another one, as a git worktree's tests are."""
    args = ("demo", "--residents", "500", "--data-dir", "var/demo", "--port", "0")
    env = hub_env(PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with running_hub(*args, cwd=cwd, env=env, log=cwd / "demo.log") as run:
        yield run


@asynccontextmanager
async def hub_page(base: str, width: int = 1280, height: int = 800) -> AsyncIterator[tuple[Page, list[str]]]:
    """A Chromium page of `width` x `height` CSS pixels, and the list that records every
    request it tried to send anywhere but `base` (each aborted)."""
    from playwright.async_api import Request, Route, async_playwright

    executable = chromium()
    elsewhere: list[str] = []

    async def only_the_hub(route: Route, request: Request) -> None:
        if request.url.startswith(base + "/"):
            await route.continue_()
        else:
            elsewhere.append(request.url)
            await route.abort()

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            await page.route("**/*", only_the_hub)
            yield page, elsewhere
        finally:
            await browser.close()
