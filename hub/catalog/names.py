"""Name conventions between the catalog (snake_case) and GraphQL (camelCase, PascalCase)."""

from __future__ import annotations

import re
from functools import cache

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@cache
def camel(name: str) -> str:
    """`tanggal_lahir` -> `tanggalLahir` (field and argument names)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@cache
def pascal(*names: str) -> str:
    """`("dukcapil", "penduduk")` -> `DukcapilPenduduk` (type names)."""
    return "".join(part[:1].upper() + part[1:] for name in names for part in name.split("_"))
