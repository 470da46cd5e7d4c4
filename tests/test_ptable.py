"""The cell-key method's perturbation table (hub/disclosure/ptable.py): every row's
noise is bounded, unbiased, of the stated variance, never publishes a small count as
itself nor a negative count, and is a pure function of (count, cell key)."""

from __future__ import annotations

import random

import pytest

from hub.disclosure.ptable import PTable, PTableError

TABLES = [
    PTable(),
    PTable(max_noise=3, variance=2.0, threshold=10),
    PTable(max_noise=2, variance=1.2, threshold=3),
]


@pytest.mark.parametrize("table", TABLES, ids=repr)
def test_every_row_is_a_bounded_unbiased_distribution_of_the_stated_variance(table: PTable) -> None:
    for count in range(1, table.largest_row + 30):
        row = table.row(count)
        assert sum(p for _, p in row) == pytest.approx(1.0, abs=1e-12)
        assert all(p > 0 for _, p in row), row
        assert all(abs(v) <= table.max_noise and count + v >= 0 for v, _ in row), row
        assert sum(p * v for v, p in row) == pytest.approx(0.0, abs=1e-10)
        assert sum(p * v * v for v, p in row) == pytest.approx(table.variance, abs=1e-10)


@pytest.mark.parametrize("table", TABLES, ids=repr)
def test_no_small_count_is_published_as_itself_and_zero_proves_nothing(table: PTable) -> None:
    for count in range(1, table.threshold):
        assert 0 not in [v for v, _ in table.row(count)], count
    assert table.row(0) == ((0, 1.0),)  # an empty cell holds no records to key
    # a published 0 also comes from cells that hold records
    assert dict(table.row(1)).get(-1, 0) > 0
    keys = [i / 1000 for i in range(1000)]
    assert {table.publish(1, k) for k in keys} >= {0} and 1 not in {table.publish(1, k) for k in keys}


@pytest.mark.parametrize("table", TABLES, ids=repr)
def test_the_noise_follows_the_row_when_cell_keys_are_uniform(table: PTable) -> None:
    steps = 200_000
    for count in (1, 2, table.threshold, 1000):
        seen: dict[int, int] = {}
        for i in range(steps):
            v = table.noise(count, (i + 0.5) / steps)
            seen[v] = seen.get(v, 0) + 1
        for v, p in table.row(count):
            assert seen.get(v, 0) / steps == pytest.approx(p, abs=1e-4), (count, v)


def test_the_noise_is_a_function_of_count_and_cell_key_alone() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        count, key = rng.randrange(0, 500), rng.random()
        assert PTable().noise(count, key) == PTable().noise(count, key)
    with pytest.raises(ValueError, match="a cell key is in"):
        PTable().noise(3, 1.0)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"variance": 0.9}, "out of reach"),  # count 1 may not stay 1: at least 1
        ({"variance": 2.0}, "out of reach"),  # count 1 with noise in {-1, 1, 2}: below 2
        ({"max_noise": 0}, "need max_noise"),
        ({"variance": 0}, "need max_noise"),
    ],
)
def test_parameters_without_a_table_are_refused(params: dict[str, float], why: str) -> None:
    with pytest.raises(PTableError, match=why):
        PTable(**params)  # type: ignore[arg-type]


@pytest.mark.parametrize("table", TABLES, ids=repr)
def test_the_publisher_for_many_cells_publishes_what_publish_does(table: PTable) -> None:
    publish, rng = table.publisher(), random.Random(7)
    edges = [0, 1, 2**31, 2**32 - 1]  # keys as whole numbers in [0, 2^32)
    for count in [*range(0, table.largest_row + 3), 1000, 10**6]:
        for key in [*edges, *(rng.randrange(2**32) for _ in range(200))]:
            assert publish(count, key) == table.publish(count, key / 2**32), (count, key)
