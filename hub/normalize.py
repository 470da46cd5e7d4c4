"""The `normalize` steps of a catalog field, applied to both sides before a match.

trim             strip leading and trailing white space
collapse_spaces  runs of white space become one space
casefold         case-insensitive (Unicode casefold)
digits           keep only the digits ("3201-0101 8000 0001" -> "3201010180000001")
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_SPACES = re.compile(r"\s+")
_NOT_DIGITS = re.compile(r"\D+")

STEPS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "collapse_spaces": lambda s: _SPACES.sub(" ", s),
    "casefold": str.casefold,
    "digits": lambda s: _NOT_DIGITS.sub("", s),
    "squash": lambda s: " ".join(s.split()),  # trim and collapse_spaces together
}


@lru_cache(maxsize=256)
def normalizer(steps: tuple[str, ...]) -> Callable[[Any], Any]:
    """A function applying `steps` in order to strings (other values pass unchanged)."""
    funcs = [STEPS[s] for s in _squashed(steps)]
    if not funcs:
        return _same
    if len(funcs) == 1:
        only = funcs[0]
        return lambda value: only(value) if isinstance(value, str) else value

    def apply(value: Any) -> Any:
        if isinstance(value, str):
            for f in funcs:
                value = f(value)
        return value

    return apply


def _squashed(steps: tuple[str, ...]) -> tuple[str, ...]:
    """`trim` next to `collapse_spaces` (either order) is one `squash`: the same result
    (`str.split()` and `\\s` agree on what is white space) in one pass."""
    out: list[str] = []
    for step in steps:
        if out and {out[-1], step} == {"trim", "collapse_spaces"}:
            out[-1] = "squash"
        else:
            out.append(step)
    return tuple(out)


def _same(value: Any) -> Any:
    return value
