"""Secrets the hub draws once and keeps in its store when their setting is unset.

The disclosure key (HUB_DISCLOSURE_KEY) must stay the same across restarts and across
the processes sharing a store: a key drawn anew would give the same cells new noise,
and answers asked again after each restart could be averaged. Kept in the store, it is
drawn by the first process to start and read by every later one.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.errors import StoreUnavailable
from hub.store.db import HubSecret

_SECRET: sa.Table = HubSecret.__table__  # type: ignore[assignment]


async def kept_secret(engine: AsyncEngine, name: str) -> str:
    """The secret `name` from the store, drawn and kept first if there is none."""
    query = sa.select(_SECRET.c.value).where(_SECRET.c.name == name)
    try:
        async with engine.connect() as conn:
            value = await conn.scalar(query)
        if value is None:  # the first start on this store: draw it, unless another process just did
            try:
                async with engine.begin() as conn:
                    await conn.execute(sa.insert(_SECRET).values(name=name, value=secrets.token_hex(32)))
            except IntegrityError:
                pass
            async with engine.connect() as conn:
                value = await conn.scalar(query)
    except SQLAlchemyError as e:
        raise StoreUnavailable(type(e).__name__) from None
    assert value is not None
    return str(value)
