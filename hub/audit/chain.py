"""The audit chain: what a record holds, its canonical form and its hash.

Record n carries `prev_hash` (record n-1's `hash`) and
`hash = sha256(prev_hash || canonical JSON of its fields and seq)`, so an edited,
deleted, inserted or reordered record breaks the chain from there on. Every store
writer (hub/audit/sqlite.py, hub/audit/pg.py, and hub/audit/log.py's SQLAlchemy path for
other stores) and `verify` use these functions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import orjson

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    """What the request released, before it gets its place in the chain."""

    at: dt.datetime
    request_id: str
    subject: str
    client_id: str | None
    operation: str | None
    query_hash: str
    purpose: str | None
    pairs: tuple[str, ...]  # sorted "object:action"
    datasets: tuple[str, ...]  # sorted "opd.dataset"
    rows: int
    records: int
    outcome: str
    disclosure: tuple[str, ...] = ()  # sorted "opd.dataset:method" of perturbed or suppressed aggregates


def fields_of(entry: Entry) -> dict[str, Any]:
    """The entry's fields by name (`asdict` without its deep copies: fields are flat).
    `disclosure` only when it says something: records from before it hash as they did."""
    out = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    if not entry.disclosure:
        del out["disclosure"]
    return out


def chain_hash(prev_hash: str, seq: int, entry: Entry) -> str:
    fields = fields_of(entry) | {"seq": seq, "at": entry.at.astimezone(dt.UTC).isoformat()}
    return hashlib.sha256(prev_hash.encode() + canonical(fields)).hexdigest()


def canonical(fields: dict[str, Any]) -> bytes:
    """`json.dumps(fields, sort_keys=True, separators=(",", ":"))`, the chain's canonical
    form, as bytes. orjson writes the same bytes 5-10x faster whenever its output is
    plain printable ASCII (json.dumps escapes DEL and everything above it, orjson does
    not); anything else goes through json.dumps (tests/test_audit_sqlite.py checks the
    two agree on arbitrary entries)."""
    try:
        raw = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
        if raw.isascii() and b"\x7f" not in raw:
            return raw
    except orjson.JSONEncodeError:  # an int beyond 64 bits, a lone surrogate
        pass
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=list).encode()


_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))


class Link(NamedTuple):
    """An entry in its place in the chain."""

    seq: int
    entry: Entry
    prev_hash: str
    hash: str


def link(seq: int, prev: str, entries: list[Entry]) -> list[Link]:
    """Chain `entries` after the record (seq, prev)."""
    out = []
    for e in entries:
        seq += 1
        digest = chain_hash(prev, seq, e)
        out.append(Link(seq, e, prev, digest))
        prev = digest
    return out


COLUMNS = ("seq", "at", "request_id", "subject", "client_id", "operation", "query_hash", "purpose",
           "pairs", "datasets", "rows", "records", "outcome", "disclosure", "prev_hash", "hash")  # fmt: skip


def row_values(k: Link) -> tuple[Any, ...]:
    """The record's audit_log columns in `COLUMNS` order (`at` in UTC, lists as JSON)."""
    e = k.entry
    return (
        k.seq, e.at.astimezone(dt.UTC), e.request_id, e.subject, e.client_id, e.operation, e.query_hash,
        e.purpose, orjson.dumps(e.pairs).decode(), orjson.dumps(e.datasets).decode(), e.rows, e.records,
        e.outcome, orjson.dumps(e.disclosure).decode() if e.disclosure else None, k.prev_hash, k.hash,
    )  # fmt: skip


def accesses(links: Sequence[Link]) -> list[tuple[int, str, str]]:
    """The transparency index rows of `links`: (seq, "opd.dataset", opd)."""
    return [(k.seq, d, d.split(".")[0]) for k in links for d in k.entry.datasets]
