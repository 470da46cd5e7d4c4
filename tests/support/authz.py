"""A test regency with a catalog and policy of the test's own, and clients per subject."""

from __future__ import annotations

from pathlib import Path

from tests.support.catalogs import Spec
from tests.support.regency import Regency, start_regency, write_policies


async def start_variant(tmp: Path, rules: str, residents: Spec | None = None) -> Regency:
    """The test regency on SQLite, with `residents` as Dukcapil's dataset (`penduduk()`
    unless given) and `rules` as policy.csv. Its client holds a key for `user:tester`."""
    write_policies(tmp / "policies", rules)
    return await start_regency("sqlite", tmp, residents=residents)
