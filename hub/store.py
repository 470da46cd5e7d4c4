"""The hub's own store: API clients (and, later, the audit log).

SQLAlchemy models migrated by Alembic (`alembic/`); a SQLite file by default,
PostgreSQL through `HUB_DATABASE_URL` when several hub processes share one store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ALEMBIC_DIR = Path(__file__).resolve().parents[1] / "alembic"


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


def store_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return create_async_engine(url, hide_parameters=True)


def _alembic_config(url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the store at `url` to the newest schema (idempotent)."""
    from alembic import command

    command.upgrade(_alembic_config(url), "head")  # type: ignore[arg-type]


async def migrate_async(url: str) -> None:
    await asyncio.to_thread(migrate, url)
