"""Record keys and cell keys of the cell-key method.

A record key is a keyed hash of the dataset's key value, read as a whole number in
[0, 2^32): MD5 of the secret, the dataset and the key value, its first 32 bits. MD5 is
chosen because every source the hub aggregates in can compute it inside the statement
(PostgreSQL `md5`, MariaDB `MD5`, SQLite through a registered function), so the noise
is decided where the rows are; the secret prefix keeps the keys unpredictable to anyone
without it. A cell key is the sum of its records' keys modulo 2^32, over 2^32: the
same records give the same cell key whatever order they are summed in, in whole-number
arithmetic that every engine does exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

MODULUS = 2**32


def record_key(secret: str, dataset: str, key: str) -> int:
    """The record key of the row whose dataset key is `key` (as text)."""
    digest = hashlib.md5(f"{secret}\x1f{dataset}\x1f{key}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16)


def cell_key(record_keys: Iterable[int]) -> float:
    """The cell key in [0, 1) of a cell holding records with these keys."""
    return (sum(record_keys) % MODULUS) / MODULUS
