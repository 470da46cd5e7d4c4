"""Normalisers give what applying the catalog's steps one by one gives."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.normalize import STEPS, normalizer

CATALOG_STEPS = ["trim", "collapse_spaces", "casefold", "digits"]
texts = st.text(alphabet=st.sampled_from(list(" \t\n\u00a0\u2003\x1c\x85aBcİß1-2")), max_size=12)


def reference(steps: tuple[str, ...], value: Any) -> Any:
    if isinstance(value, str):
        for step in steps:
            value = STEPS[step](value)
    return value


@given(
    steps=st.lists(st.sampled_from(CATALOG_STEPS), max_size=5).map(tuple),
    value=st.one_of(texts, st.integers()),
)
def test_normalizer_equals_the_steps_one_by_one(steps: tuple[str, ...], value: Any) -> None:
    assert normalizer(steps)(value) == reference(steps, value)
