"""The perturbation table (p-table) of the cell-key method.

For each true count `i` a distribution of noise `v` over whole numbers in [-D, D]:

- `i + v >= 0` (no negative count is published);
- for 1 <= i < `threshold` (the dataset's min_group_size), `v != 0`: no small count is
  ever published as itself, and because small counts can be published as 0, a
  published 0 never proves an empty cell;
- mean 0 and variance `variance`, exactly (within floating point), for every `i` from
  1 on: the noise is unbiased and its size known;
- among the distributions that meet these, the one of maximum entropy (the least
  informative), of the form p(v) ~ exp(a v + b v^2), found by Newton's method on the
  convex dual.

Counts at or above `threshold + D` all share one row (the constraints no longer
depend on `i` there). An empty cell (i = 0) holds no records and gets no noise; it
only arises when a filter matches nothing.

The noise of a cell is the inverse distribution function at its cell key: the first
`v` whose cumulative probability exceeds the key. Equal keys and counts give equal
noise, in every process.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property


class PTableError(ValueError):
    """The parameters admit no table (the variance is out of reach for some count)."""


@dataclass(frozen=True)
class PTable:
    max_noise: int = 2  # D
    variance: float = 1.5
    threshold: int = 5  # counts 1 .. threshold-1 are never published as themselves

    def __post_init__(self) -> None:
        if self.max_noise < 1 or self.threshold < 1 or self.variance <= 0:
            raise PTableError("need max_noise >= 1, threshold >= 1 and variance > 0")
        self.rows  # noqa: B018 - infeasible parameters fail here, not at the first lookup

    def allowed(self, count: int) -> list[int]:
        """The noise values count `count` may receive."""
        if count == 0:
            return [0]
        return [
            v for v in range(-self.max_noise, self.max_noise + 1)
            if count + v >= 0 and not (v == 0 and count < self.threshold)
        ]  # fmt: skip

    @property
    def largest_row(self) -> int:
        """Counts from here on share one row."""
        return self.threshold + self.max_noise

    @cached_property
    def rows(self) -> dict[int, tuple[tuple[int, float], ...]]:
        """count -> ((v, p), ...) in increasing v, for counts 0 .. largest_row."""
        out: dict[int, tuple[tuple[int, float], ...]] = {0: ((0, 1.0),)}
        for count in range(1, self.largest_row + 1):
            values = self.allowed(count)
            out[count] = tuple(zip(values, _max_entropy(values, self.variance, count), strict=True))
        return out

    def row(self, count: int) -> tuple[tuple[int, float], ...]:
        return self.rows[min(count, self.largest_row)]

    @cached_property
    def _cumulative(self) -> dict[int, tuple[list[float], list[int]]]:
        """count -> (cumulative probabilities, noise values) of its row."""
        out = {}
        for count, row in self.rows.items():
            sums = list(itertools.accumulate(p for _, p in row))
            sums[-1] = 1.0  # the last rounding error of the sum goes to the last value
            out[count] = (sums, [v for v, _ in row])
        return out

    def noise(self, count: int, cell_key: float) -> int:
        """The noise for a cell of `count` records whose cell key is `cell_key` in [0, 1):
        the first value whose cumulative probability exceeds the key."""
        if not 0.0 <= cell_key < 1.0:
            raise ValueError(f"a cell key is in [0, 1), not {cell_key}")
        sums, values = self._cumulative[min(count, self.largest_row)]
        return values[bisect.bisect_right(sums, cell_key)]

    def publish(self, count: int, cell_key: float) -> int:
        return count + self.noise(count, cell_key)

    def publisher(self) -> Callable[[int, int], int]:
        """`publish` for cell keys as whole numbers in [0, 2^32), as one function without
        the checks: a perturbed answer calls it for each of its groups."""
        rows, last = self._cumulative, self.largest_row

        def publish(count: int, cell_key: int) -> int:
            sums, values = rows[count if count < last else last]
            return count + values[bisect.bisect_right(sums, cell_key / 2**32)]

        return publish


@cache
def table_for(max_noise: int, variance: float, threshold: int) -> PTable:
    """One table per parameters, built once (PTableError if there is none)."""
    return PTable(max_noise, variance, threshold)


def _max_entropy(values: list[int], variance: float, count: int) -> list[float]:
    """p over `values` maximising entropy with E[v] = 0 and E[v^2] = variance."""
    if len(values) < 3:
        raise PTableError(f"count {count}: {values} cannot carry mean 0 and variance {variance}")
    lowest = min(v * v for v in values if v != 0) if 0 not in values else 0.0
    if not _reachable(values, variance) or variance <= lowest:
        raise PTableError(f"count {count}: variance {variance} is out of reach with noise {values}")
    a = b = 0.0
    for _ in range(200):
        p = _weights(values, a, b)
        m1 = sum(pi * v for pi, v in zip(p, values, strict=True))
        m2 = sum(pi * v * v for pi, v in zip(p, values, strict=True))
        m3 = sum(pi * v**3 for pi, v in zip(p, values, strict=True))
        m4 = sum(pi * v**4 for pi, v in zip(p, values, strict=True))
        g1, g2 = m1, m2 - variance  # the dual's gradient
        if abs(g1) < 1e-13 and abs(g2) < 1e-13:
            return p
        h11, h12, h22 = m2 - m1 * m1, m3 - m1 * m2, m4 - m2 * m2  # its Hessian: Cov(v, v^2)
        det = h11 * h22 - h12 * h12
        if det <= 0:
            raise PTableError(f"count {count}: the table does not converge")
        da, db = (h22 * g1 - h12 * g2) / det, (h11 * g2 - h12 * g1) / det
        step = 1.0
        dual = _dual(values, a, b, variance)
        while _dual(values, a - step * da, b - step * db, variance) > dual - 1e-4 * step * (
            g1 * da + g2 * db
        ):
            step /= 2
            if step < 1e-12:
                break
        a, b = a - step * da, b - step * db
    raise PTableError(f"count {count}: the table does not converge")


def _reachable(values: list[int], variance: float) -> bool:
    """Whether some distribution on `values` with mean 0 has a variance above
    `variance`: the widest is the pair of extremes, weighted to mean 0."""
    low, high = min(values), max(values)
    return low < 0 < high and variance < -low * high


def _weights(values: list[int], a: float, b: float) -> list[float]:
    logs = [a * v + b * v * v for v in values]
    top = max(logs)
    w = [math.exp(x - top) for x in logs]
    total = sum(w)
    return [x / total for x in w]


def _dual(values: list[int], a: float, b: float, variance: float) -> float:
    logs = [a * v + b * v * v for v in values]
    top = max(logs)
    return top + math.log(sum(math.exp(x - top) for x in logs)) - b * variance
