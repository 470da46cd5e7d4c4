"""The lean asyncpg pool (adapters/pg_pool.py) against a real PostgreSQL: never more
connections than its size, a place freed by every way a statement can end, a query
cancelled on the server when its caller gives up, and service after the server drops
connections."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from adapters.pg_pool import Pool
from tests.support.databases import SERVERS, require_server

DSN = SERVERS["postgresql"][2].format(db="postgres").replace("postgresql+asyncpg", "postgresql")
NAME = f"hub_pg_pool_{os.getpid()}_{secrets.token_hex(4)}"  # application_name: this run's connections


@pytest_asyncio.fixture
async def admin() -> AsyncIterator[asyncpg.Connection]:
    require_server("postgresql")
    conn = await asyncpg.connect(DSN)
    try:
        yield conn
    finally:
        await conn.close()


def pool(size: int) -> Pool:
    return Pool(f"{DSN}?application_name={NAME}", size)


async def connections(admin: asyncpg.Connection, state: str | None = None) -> int:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
    if state is not None:
        return int(await admin.fetchval(sql + " AND state = $2", NAME, state))
    return int(await admin.fetchval(sql, NAME))


async def test_many_callers_share_at_most_size_connections(admin: asyncpg.Connection) -> None:
    p = pool(3)
    try:
        most = 0

        async def watch() -> None:
            nonlocal most
            while True:
                most = max(most, await connections(admin))
                await asyncio.sleep(0.01)

        watcher = asyncio.ensure_future(watch())
        rows = await asyncio.gather(*(p.fetch("SELECT $1::int, pg_sleep(0.05)", n) for n in range(30)))
        watcher.cancel()
        assert [r[0][0] for r in rows] == list(range(30))
        assert most == 3
        assert len(p._idle) == 3 and p._size == 3
    finally:
        await p.close()
    assert await connections(admin) == 0


async def test_a_caller_that_gives_up_cancels_its_query_on_the_server(admin: asyncpg.Connection) -> None:
    p = pool(1)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await p.fetch("SELECT pg_sleep(30)")
        started = time.monotonic()
        # the only place comes free once the server has stopped the query and the connection closed
        assert [tuple(r) for r in await p.fetch("SELECT 42")] == [(42,)]
        assert time.monotonic() - started < 5
        assert await connections(admin, "active") == 0  # no pg_sleep(30) left running
        assert p._size == 1
    finally:
        await p.close()


async def test_a_refused_statement_keeps_its_connection_and_a_broken_one_is_replaced(
    admin: asyncpg.Connection,
) -> None:
    p = pool(2)
    try:
        pid = (await p.fetch("SELECT pg_backend_pid()"))[0][0]
        with pytest.raises(asyncpg.DivisionByZeroError):
            await p.fetch("SELECT 1 / $1::int", 0)
        assert (await p.fetch("SELECT pg_backend_pid()"))[0][0] == pid  # the same connection, reused

        # The server drops the idle connection; the next statement may find it closed or
        # run into the closing (asyncpg has not read the notice yet): it answers either way.
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        assert (await p.fetch("SELECT pg_backend_pid()"))[0][0] != pid
        deadline = time.monotonic() + 10
        while p._size != 1:  # the dropped one's place is freed once it is retired
            assert time.monotonic() < deadline, f"{p._size} places taken"
            await asyncio.sleep(0.01)
    finally:
        await p.close()


async def test_a_waiter_that_gives_up_leaves_no_place_taken(admin: asyncpg.Connection) -> None:
    p = pool(1)
    try:
        busy = asyncio.ensure_future(p.fetch("SELECT pg_sleep(0.3)"))
        await asyncio.sleep(0.05)
        impatient = asyncio.ensure_future(p.fetch("SELECT 1"))
        await asyncio.sleep(0.05)
        impatient.cancel()
        patient = asyncio.ensure_future(p.fetch("SELECT 2"))
        await busy
        assert [tuple(r) for r in await asyncio.wait_for(patient, 5)] == [(2,)]
        assert impatient.cancelled()
        assert p._size == 1 and await connections(admin) == 1
    finally:
        await p.close()


async def test_callers_waiting_when_a_connection_cannot_be_opened_are_told_and_served_later(
    admin: asyncpg.Connection,
) -> None:
    broken = Pool("postgresql://postgres@127.0.0.1:1/postgres", 2)  # nothing listens on port 1
    outcomes = await asyncio.gather(*(broken.fetch("SELECT 1") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, OSError) for o in outcomes), outcomes
    assert broken._size == 0 and not broken._waiters
    await broken.close()

    p = pool(1)
    await p.close()
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await p.fetch("SELECT 1")


async def test_a_waiter_cancelled_just_after_being_handed_a_place_or_a_connection_passes_it_on(
    admin: asyncpg.Connection,
) -> None:
    p = pool(1)
    try:
        held = await p._wait()  # the only place, taken as a caller's checkout takes it
        for hand_over in ("place", "connection"):
            waiter = asyncio.ensure_future(p.fetch("SELECT 1"))
            await asyncio.sleep(0)  # parked as a waiter
            assert len(p._waiters) == 1
            if hand_over == "place":  # its connection was retired: the place is handed on
                held.terminate()
                p._freed()
            else:
                p._give(held)
            waiter.cancel()  # before the waiter ran again
            with pytest.raises(asyncio.CancelledError):
                await waiter
            # what it was handed went on: the next caller is served, with one connection at most
            assert [tuple(r) for r in await asyncio.wait_for(p.fetch("SELECT 7"), 5)] == [(7,)]
            assert p._size == 1
            held = await p._wait()
    finally:
        p._give(held)
        await p.close()


async def test_connections_idle_for_the_timeout_are_closed(admin: asyncpg.Connection) -> None:
    p = Pool(f"{DSN}?application_name={NAME}", 3, idle_timeout=0.3)
    try:
        await asyncio.gather(*(p.fetch("SELECT pg_sleep(0.05)") for _ in range(3)))
        assert await connections(admin) == 3
        # one stays in use: queried every 0.1 s, it is never idle for 0.3 s
        deadline = time.monotonic() + 10
        while await connections(admin) > 1:
            assert time.monotonic() < deadline, "idle connections were not closed"
            await p.fetch("SELECT 1")
            await asyncio.sleep(0.1)
        assert await connections(admin) == 1
        # then nothing uses it: it goes too, and the next query opens a fresh one
        while await connections(admin) > 0:
            assert time.monotonic() < deadline, "the last idle connection was not closed"
            await asyncio.sleep(0.05)
        assert (await p.fetch("SELECT 7"))[0][0] == 7
        assert await connections(admin) == 1
    finally:
        await p.close()
    assert await connections(admin) == 0
