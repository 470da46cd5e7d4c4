"""Record and cell keys (hub/disclosure/cellkey.py): a cell's key depends on which
records it holds and on the secret, nothing else."""

from __future__ import annotations

import random

from hub.disclosure.cellkey import MODULUS, cell_key, record_key


def test_a_cell_key_depends_only_on_the_set_of_records() -> None:
    rng = random.Random(3)
    niks = [f"{rng.randrange(10**15, 10**16)}" for _ in range(300)]
    keys = [record_key("s", "dinsos.penerima_bansos", n) for n in niks]
    orders = [keys, keys[::-1], sorted(keys), rng.sample(keys, len(keys))]
    assert len({cell_key(k) for k in orders}) == 1
    assert cell_key(keys[:-1]) != cell_key(keys)  # one record more or less: another key


def test_record_keys_are_keyed_and_spread_over_the_range() -> None:
    a = [record_key("one", "d", str(i)) for i in range(20_000)]
    b = [record_key("two", "d", str(i)) for i in range(20_000)]
    assert sum(x == y for x, y in zip(a, b, strict=True)) < 5  # the secret changes every key
    assert record_key("one", "d", "7") == a[7]
    assert all(0 <= k < MODULUS for k in a)
    # uniform: each tenth of the range holds about a tenth of the keys
    tenths = [0] * 10
    for k in a:
        tenths[k * 10 // MODULUS] += 1
    assert all(1800 < n < 2200 for n in tenths), tenths
    assert 0.0 <= cell_key(a) < 1.0 and cell_key([]) == 0.0
