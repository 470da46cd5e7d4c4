"""The `normalize` steps of a catalog field, applied to both sides before a match.

trim             strip leading and trailing white space
collapse_spaces  runs of white space become one space
casefold         case-insensitive (Unicode casefold)
digits           keep only the digits ("3201-0101 8000 0001" -> "3201010180000001")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

_SPACES = re.compile(r"\s+")
_NOT_DIGITS = re.compile(r"\D+")

STEPS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "collapse_spaces": lambda s: _SPACES.sub(" ", s),
    "casefold": str.casefold,
    "digits": lambda s: _NOT_DIGITS.sub("", s),
}


def normalizer(steps: Sequence[str]) -> Callable[[Any], Any]:
    """A function applying `steps` in order to strings (other values pass unchanged)."""
    funcs = [STEPS[s] for s in steps]
    if not funcs:
        return _same

    def apply(value: Any) -> Any:
        if isinstance(value, str):
            for f in funcs:
                value = f(value)
        return value

    return apply


def _same(value: Any) -> Any:
    return value
