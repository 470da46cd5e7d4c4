"""Real database servers for tests: a fresh database per use, dropped afterwards.

A server that is not running skips the test with a reason, or fails it when
HUB_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

BACKENDS = ("sqlite", "postgresql", "mariadb")
SERVERS = {
    "postgresql": ("127.0.0.1", 5432, "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"),
    "mariadb": ("127.0.0.1", 3306, "mysql+asyncmy://root@127.0.0.1:3306/{db}?charset=utf8mb4"),
}
ADMIN_DB = {"postgresql": "postgres", "mariadb": "mysql"}
REDIS = ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0")


def require_server(kind: str) -> None:
    if kind == "sqlite":
        return
    host, port, _ = REDIS if kind == "redis" else SERVERS[kind]
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as e:
        reason = f"{kind} is not running at {host}:{port} ({e.strerror})"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + "; HUB_REQUIRE_SERVICES=1 requires it")
        pytest.skip(reason)


class ScratchDatabase:
    """A throwaway database on one backend; `url` is its SQLAlchemy async URL."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.name = f"hubtest_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            self.url = f"sqlite+aiosqlite:///{tmp / (self.name + '.db')}"
        else:
            self.url = SERVERS[kind][2].format(db=self.name)

    async def _admin(self, statement: str) -> None:
        url = SERVERS[self.kind][2].format(db=ADMIN_DB[self.kind])
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text(statement))
        finally:
            await engine.dispose()

    async def create(self) -> ScratchDatabase:
        require_server(self.kind)
        if self.kind != "sqlite":
            await self._admin(f"CREATE DATABASE {self.name}")
        return self

    async def drop(self) -> None:
        if self.kind == "postgresql":
            await self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        elif self.kind == "mariadb":
            await self._admin(f"DROP DATABASE IF EXISTS {self.name}")
