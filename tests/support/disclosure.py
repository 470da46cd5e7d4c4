"""What a perturbed aggregate should publish, computed here from the rows themselves.

The count of a cell follows from the p-table (tested on its own, tests/test_ptable.py)
and the cell key, which this module sums in Python from each record's key: a source
that computes cell keys differently (in SQL, per dialect) fails the comparison. Sums
are checked against the method's bounds, not recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hub.catalog import Dataset
from hub.disclosure.cellkey import cell_key, record_key
from hub.disclosure.ptable import table_for


def published_count(secret: str, ds: Dataset, records: Iterable[Mapping[str, Any]]) -> int:
    """The count the cell-key method publishes for a cell holding `records`."""
    rows = list(records)
    d = ds.spec.disclosure
    table = table_for(d.max_noise, d.variance, ds.spec.min_group_size)
    dialect = "postgresql" if str(ds.source.url).startswith("postgresql") else ""
    key = cell_key(record_key(secret, ds.qualified, r[ds.key], dialect) for r in rows)
    return table.publish(len(rows), key)


def sum_within_bounds(ds: Dataset, values: list[float], published: float | None) -> bool:
    """Whether a published sum of `values` is off by m/2 to m times the largest |value|
    (at least 1), either way, as hub/disclosure/perturb.py promises; never exact. No
    values: no sum."""
    if not values or published is None:
        return not values and published is None
    top = max([abs(v) for v in values] + [1.0])
    m = ds.spec.disclosure.sum_noise
    off = abs(published - sum(values))
    return published != sum(values) and m / 2 * top - 1e-9 <= off <= m * top + 1.0  # +1: integer rounding
