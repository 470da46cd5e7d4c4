"""Record keys and cell keys of the cell-key method, for the hub's side.

A record key is a keyed hash of the dataset's key value, a whole number in [0, 2^32);
a cell key is the sum of its records' keys modulo 2^32, over 2^32: the same records
give the same cell key whatever order they are summed in, in whole-number arithmetic
that every engine does exactly. The hashing itself lives in adapters/cellkey.py, which
also writes it into SQL statements, so that sources compute cell keys where the rows
are; `prefix` is what both put before each key value.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.cellkey import MODULUS
from adapters.cellkey import cell_key as _cell_key
from adapters.cellkey import record_key as _record_key

__all__ = ["MODULUS", "cell_key", "prefix", "record_key"]


def prefix(secret: str, dataset: str) -> str:
    return f"{secret}\x1f{dataset}\x1f"


def record_key(secret: str, dataset: str, key: object, dialect: str = "") -> int:
    """The record key of the row whose dataset key is `key` (hashed as text), as a
    source of `dialect` computes it (adapters/cellkey.py)."""
    return _record_key(prefix(secret, dataset), key, dialect)


def cell_key(record_keys: Iterable[int]) -> float:
    """The cell key in [0, 1) of a cell holding records with these keys."""
    return _cell_key(record_keys) / MODULUS
