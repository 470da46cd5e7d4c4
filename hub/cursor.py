"""Opaque, sealed keyset cursors.

A cursor holds the order values of the last row of a page (always including the
dataset key) and a fingerprint of the ordering it came from. It is sealed with
AES-GCM: a caller can neither read the values (the key may be a NIK the caller may
not read), nor forge a position, nor reuse a cursor with another `orderBy` or `where`.
Anything wrong with a cursor is `BAD_USER_INPUT`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import math
import os
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.base import Filter, Order
from hub.errors import BadUserInput

_NONCE = 12


def _encode_value(v: Any) -> Any:
    """JSON for one order value; what JSON cannot hold exactly travels as text."""
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # "inf", "-inf", "nan": orjson would write null
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63:
        return str(v)  # beyond orjson's 64-bit integers
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
    if type_ == "integer":
        if isinstance(v, str):
            return int(v)
        if not isinstance(v, int):
            raise ValueError("not an integer")
    if type_ == "float" and isinstance(v, str):
        return float(v)
    return v


class Cursors:
    def __init__(self, secret: str = "") -> None:
        root = secret.encode() if secret else os.urandom(32)
        self._aead = AESGCM(hashlib.sha256(b"opd-hub cursor key\0" + root).digest())
        self._nonce_key = hashlib.sha256(b"opd-hub cursor nonce\0" + root).digest()

    @staticmethod
    def _fingerprint(dataset: str, order: Sequence[Order], scope: str) -> str:
        spec = ",".join(f"{o.field}:{'d' if o.descending else 'a'}" for o in order)
        return hashlib.sha256(f"{dataset}|{spec}|{scope}".encode()).hexdigest()[:8]

    def encode(self, dataset: str, order: Sequence[Order], values: Sequence[Any], scope: str = "") -> str:
        """`scope`: what else the cursor is only good for, `filter_scope` of the query's where."""
        payload = orjson.dumps([self._fingerprint(dataset, order, scope), [_encode_value(v) for v in values]])
        # Synthetic nonce: the same position always gives the same cursor, and a nonce
        # repeats only for the same plaintext, so GCM's nonce rule holds.
        nonce = hmac.new(self._nonce_key, payload, hashlib.sha256).digest()[:_NONCE]
        sealed = nonce + self._aead.encrypt(nonce, payload, None)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def decode(
        self, cursor: str, dataset: str, order: Sequence[Order], types: Sequence[str], scope: str = ""
    ) -> tuple[Any, ...]:
        bad = BadUserInput(
            "`after` is not a cursor this hub issued for this query; "
            "take endCursor or an edge cursor from a previous page"
        )
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:
            raise bad  # only the spelling this hub issued: no padding, no stray bits
        try:
            payload = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], None)
        except (InvalidTag, ValueError):
            raise bad from None
        try:
            fingerprint, values = orjson.loads(payload)
            if fingerprint != self._fingerprint(dataset, order, scope) or len(values) != len(types):
                raise bad
            return tuple(_decode_value(v, t) for v, t in zip(values, types, strict=True))
        except (ValueError, TypeError, InvalidOperation):
            raise bad from None


def filter_scope(where: Filter | None) -> str:
    """A digest of a `where`, values included: a cursor from one filter's pages does not
    page on under another (its position would skip or repeat rows of the other)."""
    return "" if where is None else hashlib.sha256(repr(where).encode()).hexdigest()[:16]
