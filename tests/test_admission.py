"""adapters/admission.py: a cache takes a key at its second sighting, within a window."""

from __future__ import annotations

from adapters.admission import Doorkeeper


def test_a_key_is_admitted_when_seen_again() -> None:
    door = Doorkeeper(size=3)
    assert [door.again(k) for k in ("a", "b", "a", "a")] == [False, False, True, True]


def test_keys_are_remembered_for_one_to_two_windows() -> None:
    door = Doorkeeper(size=3)
    for k in ("a", "b", "c"):  # the first window, full
        door.again(k)
    for k in ("d", "e", "f"):  # the second: "a" still remembered, in the previous window
        door.again(k)
    assert door.again("a")
    door.again("g")  # a third window begins: the first is forgotten
    assert not door.again("b")
    assert door.again("f")
