"""The published values of a perturbed aggregate: counts from the p-table, sums and
averages by the same cell key.

The source returns, per group, the true count, each summed or averaged field's sum,
min and max, and the cell key (adapters/cellkey.py). Published:

- count: true count + the p-table's noise at (count, cell key) (hub/disclosure/ptable.py);
- sum: true sum + s * m * top, where top is the largest absolute value in the cell (at
  least 1), m = `sum_noise` and s a number in [-1, -1/2] or [1/2, 1], both halves and
  every point in them equally likely, drawn from the cell key shifted by a hash of the
  field's name: unbiased, bounded, never zero, so no sum is published exact; one
  person's value in a cell of one is blurred by up to m times itself;
- avg: published sum / published count (null when the published count is 0), so it
  carries no information the two do not.

With `groupBy`, a group whose published count is 0 is left out: true empty groups never
appear, and a listed 0 would prove the group holds someone.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapters.base import Measure, Row
from adapters.cellkey import MODULUS
from hub.disclosure.ptable import PTable

Pair = tuple[Measure, str]


def source_measures(measures: Iterable[Pair]) -> tuple[Pair, ...]:
    """What the source must compute for `measures` (sums and averages only): each
    field's sum, min and max, in that order."""
    fields = dict.fromkeys(f for m, f in measures if m in ("sum", "avg"))
    return tuple((m, f) for f in fields for m in ("sum", "min", "max"))


@functools.cache
def _shift(field: str) -> int:
    """Each field's sum gets its own draw from the one cell key."""
    return int(hashlib.md5(field.encode(), usedforsecurity=False).hexdigest()[:8], 16)


def sum_share(cell_key: int, field: str) -> float:
    """s in [-1, -1/2] or [1/2, 1] for the cell key (a whole number in [0, 2^32))."""
    u = ((cell_key + _shift(field)) % MODULUS) / MODULUS
    sign = -1.0 if u < 0.5 else 1.0
    return sign * (0.5 + (u % 0.5))


@dataclass(frozen=True)
class Perturbation:
    table: PTable
    sum_noise: float  # m: largest noise on a sum as a share of the cell's largest value

    def publish(
        self, rows: Iterable[Row], width: int, measures: tuple[Pair, ...], types: Mapping[str, str]
    ) -> list[Row]:
        """Source rows (*group, count, *source_measures(measures), cell key) -> published
        rows (*group, count, *measures); `types`: each measured field's catalog type."""
        at = {pair: width + 1 + i for i, pair in enumerate(source_measures(measures))}
        fields = list(dict.fromkeys(f for _, f in measures))  # each summed field once
        where = [(f, at[("sum", f)], types[f]) for f in fields]
        wanted = [(fields.index(f), m == "avg") for m, f in measures]
        publish, out = self.table.publisher(), []
        for row in rows:
            count, key = int(row[width]), int(row[-1] or 0)
            published = publish(count, key)
            if width and published == 0:
                continue
            sums = [self._sum(row, i, key, type_, f) for f, i, type_ in where]
            values = [average(sums[i], published) if avg else sums[i] for i, avg in wanted]
            out.append((*row[:width], published, *values))
        return out

    def _sum(self, row: Row, at: int, key: int, type_: str, field: str) -> Any:
        """The published sum of `field`, whose sum, min and max are at `at`, `at` + 1, + 2."""
        total = row[at]
        if total is None:  # no values in the cell
            return None
        top = max(abs(float(row[at + 1])), abs(float(row[at + 2])), 1.0)
        noise = sum_share(key, field) * self.sum_noise * top
        if type_ == "integer":  # rounded away from zero: never 0, so never the true sum
            return int(total) + int(math.copysign(math.ceil(abs(noise)), noise))
        if type_ == "decimal":
            return Decimal(f"{float(total) + noise:.2f}")
        return float(total) + noise


def average(total: Any, count: int) -> float | None:
    """A sum over a count, as a float; None for no values or no rows."""
    return None if total is None or count == 0 else float(total) / count
