"""Published values of a perturbed aggregate (hub/disclosure/perturb.py): counts from the
p-table at the cell key, sums off by a half to the whole of `sum_noise` times the group's
largest value (never exact, in either direction alike), averages from the published sum
and count, and groups published as 0 left out of grouped answers."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from adapters.cellkey import MODULUS
from hub.disclosure.perturb import Perturbation, source_measures, sum_share
from hub.disclosure.ptable import PTable

P = Perturbation(PTable(), sum_noise=0.5)
MEASURES = (("sum", "nominal"), ("avg", "nominal"))


def test_the_source_computes_sum_min_and_max_of_each_summed_or_averaged_field() -> None:
    assert source_measures(MEASURES) == (("sum", "nominal"), ("min", "nominal"), ("max", "nominal"))
    assert source_measures((("avg", "a"), ("sum", "b"), ("sum", "a"))) == (
        ("sum", "a"), ("min", "a"), ("max", "a"), ("sum", "b"), ("min", "b"), ("max", "b"),
    )  # fmt: skip
    assert source_measures(()) == ()


def test_the_share_of_a_sums_noise_is_bounded_symmetric_and_never_zero() -> None:
    shares = [sum_share(k, "nominal") for k in range(0, MODULUS, MODULUS // 100_000)]
    assert all(0.5 <= abs(s) <= 1.0 for s in shares)
    assert sum(shares) / len(shares) == pytest.approx(0.0, abs=0.01)
    assert sum(s > 0 for s in shares) / len(shares) == pytest.approx(0.5, abs=0.01)
    # each field draws its own share from the one cell key
    assert [sum_share(k, "a") for k in range(50)] != [sum_share(k, "b") for k in range(50)]


@pytest.mark.parametrize("type_", ["integer", "decimal", "float"])
def test_sums_are_never_exact_and_stay_within_their_bounds(type_: str) -> None:
    rng = random.Random(11)
    for _ in range(2000):
        values = [rng.randrange(0, 3) for _ in range(rng.randrange(1, 6))]  # small values: rounding bites
        total, top = sum(values), max(max(values), 1)
        key = rng.randrange(MODULUS)
        row = (len(values), total, min(values), max(values), key)  # no groupBy: always answered
        (published,) = P.publish([row], 0, (("sum", "nominal"),), {"nominal": type_})
        got = published[1]
        assert isinstance(got, {"integer": int, "decimal": Decimal, "float": float}[type_])
        off = abs(float(got) - total)
        assert got != total and 0.25 * top - 0.01 <= off <= 0.5 * top + 1, (values, got)


def test_counts_come_from_the_ptable_and_averages_from_the_published_values() -> None:
    key = 123_456_789
    row = ("Belat", 40, 4_000_000, 50_000, 150_000, key)
    (published,) = P.publish([row], 1, MEASURES, {"nominal": "integer"})
    count = PTable().publish(40, key / MODULUS)
    assert published[:2] == ("Belat", count)
    assert published[3] == pytest.approx(published[2] / count)


def test_a_group_published_as_zero_is_left_out_but_a_total_of_zero_is_answered() -> None:
    key = next(k for k in range(0, MODULUS, 7919) if PTable().publish(1, k / MODULUS) == 0)
    assert P.publish([("Belat", 1, key)], 1, (), {}) == []
    assert P.publish([(1, key)], 0, (), {}) == [(0,)]
    assert P.publish([(0, None, None, None, 0)], 0, MEASURES, {"nominal": "integer"}) == [(0, None, None)]
