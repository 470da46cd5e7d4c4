"""The hub's own store: API clients and the audit log.

SQLAlchemy models migrated by Alembic (`alembic/`); a SQLite file by default,
PostgreSQL through `HUB_DATABASE_URL` when several hub processes share one store.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ALEMBIC_DIR = Path(__file__).resolve().parent / "migrations"  # shipped as package data
HEAD = "0005"  # the newest revision in alembic/versions (a test holds it to Alembic's own answer)


class Base(DeclarativeBase):
    pass


class Client(Base):
    """A caller holding an API key; only the key's hash is kept."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(200), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    match_quota: Mapped[int | None] = mapped_column(sa.Integer)  # records a day; None: HUB_MATCH_QUOTA


class AuditRecord(Base):
    """One request that released non-public data (see hub.audit.log). Never values."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(200), index=True)
    client_id: Mapped[str | None] = mapped_column(sa.String(24))
    operation: Mapped[str | None] = mapped_column(sa.String(200))
    query_hash: Mapped[str] = mapped_column(sa.String(64))
    purpose: Mapped[str | None] = mapped_column(sa.String(200))
    pairs: Mapped[str] = mapped_column(sa.Text)  # JSON list of "object:action"
    datasets: Mapped[str] = mapped_column(sa.Text)  # JSON list of "opd.dataset"
    rows: Mapped[int] = mapped_column(sa.Integer)
    records: Mapped[int] = mapped_column(sa.Integer)
    outcome: Mapped[str] = mapped_column(sa.String(20))
    disclosure: Mapped[str | None] = mapped_column(sa.Text)  # JSON list of "opd.dataset:method"
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditAccess(Base):
    """Which OPD's dataset a record touched: the index behind transparency queries."""

    __tablename__ = "audit_access"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    dataset: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    opd: Mapped[str] = mapped_column(sa.String(100), index=True)


class MatchSubject(Base):
    """One row per (subject, dataset) that has compared match-only fields: locked by every
    spend of a guess budget, so that processes spend one after another."""

    __tablename__ = "match_subject"

    subject: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    spends: Mapped[int] = mapped_column(sa.BigInteger)


class MatchQuota(Base):
    """Records a subject has had compared on one day (UTC): match records and rows named
    by key-anchored filters (hub/store/quotas.py)."""

    __tablename__ = "match_quota"

    subject: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # YYYY-MM-DD
    records: Mapped[int] = mapped_column(sa.BigInteger)


class MatchGuess(Base):
    """A distinct value compared for one key and field (hub/store/guesses.py): keyed
    digests only, never the key or the value."""

    __tablename__ = "match_guess"

    subject: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    key_digest: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    field: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    value_digest: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    at: Mapped[float] = mapped_column(sa.Float)  # seconds since the epoch


class HubSecret(Base):
    """A secret the hub draws once and keeps, when its setting is unset: the disclosure
    key (hub/store/secrets.py)."""

    __tablename__ = "hub_secret"

    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))


class AuditHead(Base):
    """The chain's head: one row, locked by every writer, so processes append in turn."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))


def store_engine(url: str) -> AsyncEngine:
    """The store's engine. SQLite runs in WAL mode with full sync: a commit is one
    fsync and still durable, readers never block the audit writer, and several
    processes on one file wait for each other (busy_timeout) instead of failing."""
    if not url.startswith("sqlite"):
        # pre-ping: after the store was down, a pooled connection it dropped is replaced
        # at checkout instead of failing its next query (transparency, verify); the hot
        # path (key checks, audit appends) does not go through this pool
        return create_async_engine(url, hide_parameters=True, pool_pre_ping=True)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, hide_parameters=True)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine


def _alembic_config(url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the store at `url` to the newest schema (idempotent). Processes starting
    together on one new SQLite file take turns (a lock file beside it): two migrating
    at once both tried to create the first table, and one failed to start."""
    from alembic import command

    with _migration_turn(url):
        command.upgrade(_alembic_config(url), "head")  # type: ignore[arg-type]


@contextlib.contextmanager
def _migration_turn(url: str) -> Iterator[None]:
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:" or os.name != "posix":
        yield
        return
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


async def migrate_async(url: str) -> None:
    """`migrate`, when the store is not at `HEAD` already (Alembic costs a few hundred
    ms to import and compare, at every start of every hub process)."""
    if await revision(url) != HEAD:
        await asyncio.to_thread(migrate, url)


async def revision(url: str) -> str | None:
    """The store's Alembic revision; None when it has none (a new store) or cannot say."""
    engine = store_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
    except (SQLAlchemyError, OSError):
        return None  # no table yet, or no store: `migrate` creates it, or fails saying why
    finally:
        await engine.dispose()
    return str(rows[0][0]) if len(rows) == 1 else None
