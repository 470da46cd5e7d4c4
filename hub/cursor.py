"""Opaque, signed keyset cursors.

A cursor holds the order values of the last row of a page and a fingerprint of the
ordering it came from, signed with HMAC-SHA256 so that a caller can neither forge a
position nor reuse a cursor with another `orderBy`. Anything wrong with a cursor is
`BAD_USER_INPUT`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from adapters.base import Order
from hub.errors import BadUserInput

_SIG = 12  # bytes of HMAC kept: forging needs 2^96 tries


def _encode_value(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def _decode_value(v: Any, type_: str) -> Any:
    if v is None:
        return None
    if type_ == "date":
        return dt.date.fromisoformat(v)
    if type_ == "datetime":
        return dt.datetime.fromisoformat(v)
    if type_ == "decimal":
        return Decimal(v)
    if type_ == "integer" and not isinstance(v, int):
        raise ValueError("not an integer")
    return v


class Cursors:
    def __init__(self, secret: str = "") -> None:
        self._key = secret.encode() if secret else secrets.token_bytes(32)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIG]

    @staticmethod
    def _fingerprint(dataset: str, order: Sequence[Order]) -> str:
        spec = ",".join(f"{o.field}:{'d' if o.descending else 'a'}" for o in order)
        return hashlib.sha256(f"{dataset}|{spec}".encode()).hexdigest()[:8]

    def encode(self, dataset: str, order: Sequence[Order], values: Sequence[Any]) -> str:
        payload = orjson.dumps([self._fingerprint(dataset, order), [_encode_value(v) for v in values]])
        return base64.urlsafe_b64encode(self._mac(payload) + payload).decode().rstrip("=")

    def decode(
        self, cursor: str, dataset: str, order: Sequence[Order], types: Sequence[str]
    ) -> tuple[Any, ...]:
        bad = BadUserInput(
            "`after` is not a cursor this hub issued for this query; "
            "take endCursor or an edge cursor from a previous page"
        )
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        mac, payload = raw[:_SIG], raw[_SIG:]
        if len(mac) < _SIG or not hmac.compare_digest(mac, self._mac(payload)):
            raise bad
        try:
            fingerprint, values = orjson.loads(payload)
            if fingerprint != self._fingerprint(dataset, order) or len(values) != len(types):
                raise bad
            return tuple(_decode_value(v, t) for v, t in zip(values, types, strict=True))
        except (ValueError, TypeError, InvalidOperation):
            raise bad from None
