"""API keys: created once and shown once, stored as a hash, revocable, optionally expiring.

A key reads `hub_<client id>_<secret>`: the id finds the client's row, the secret (32
random bytes) is compared by its SHA-256 in constant time. Every request checks the
store, so a revoked or expired key stops working at once, in every hub process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.store.db import Client
from hub.store.keycheck import KeyStore

__all__ = ["Caller", "Client", "Issued", "authenticate", "create", "listing", "now", "revoke"]

SUBJECT = re.compile(r"^(opd:[a-z][a-z0-9_]*|user:[A-Za-z0-9_.@-]+)$")
_KEY = re.compile(r"^hub_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


@dataclass(frozen=True)
class Issued:
    id: str
    key: str


async def create(
    engine: AsyncEngine, subject: str, name: str | None = None, expires_days: float | None = None,
    match_quota: int | None = None,
) -> Issued:  # fmt: skip
    if not SUBJECT.match(subject):
        raise ValueError(f"subject must be opd:<id> or user:<name>, not {subject!r}")
    if match_quota is not None and match_quota < 0:
        raise ValueError(f"the match quota is a number of records a day, 0 or more, not {match_quota}")
    client_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    created = now()
    expires = created + dt.timedelta(days=expires_days) if expires_days is not None else None
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(Client).values(
                id=client_id, subject=subject, name=name, key_hash=_hash(secret),
                created_at=created, expires_at=expires, match_quota=match_quota,
            )
        )  # fmt: skip
    return Issued(client_id, f"hub_{client_id}_{secret}")


async def listing(engine: AsyncEngine) -> list[Client]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(Client.__table__).order_by(Client.created_at))).all()
    return [Client(**row._mapping) for row in rows]


async def revoke(engine: AsyncEngine, client_id: str) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.update(Client)
            .where(Client.id == client_id, Client.revoked_at.is_(None))
            .values(revoked_at=now())
        )
    return bool(result.rowcount)


@dataclass(frozen=True)
class Caller:
    subject: str
    client_id: str | None
    match_quota: int | None = None  # the client's own daily match quota, if it has one


async def authenticate(keys: KeyStore, key: str) -> Caller | None:
    """The caller a key belongs to, or None for an unknown, revoked or expired key;
    `errors.StoreUnavailable` when the store cannot be asked."""
    m = _KEY.match(key)
    if m is None:
        return None
    client_id, secret = m.groups()
    row = await keys.row(client_id)
    if row is None:
        return None
    subject, key_hash, expires_at, revoked_at, match_quota = row
    if not hmac.compare_digest(key_hash, _hash(secret)):
        return None
    expires = aware(expires_at)
    if revoked_at is not None or (expires is not None and expires <= now()):
        return None
    return Caller(subject, client_id, match_quota)
