"""Alembic environment for the hub store; run through `hub migrate`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hub.store.db import Base, store_engine

target_metadata = Base.metadata


MIGRATION_LOCK = 72_17_0001  # any constant: the advisory lock every hub process takes to migrate


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes starting together on a fresh store migrate one after another.
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        context.run_migrations()


async def main() -> None:
    engine = store_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
    finally:
        await engine.dispose()


asyncio.run(main())
