"""A lean pool of asyncpg connections, one per PostgreSQL source (and the hub store).

asyncpg's own Pool costs a large share of a short query's CPU on top of the query
itself: every release is shielded in a task of its own, every acquire goes through a
queue and timeouts.
The hub runs one statement per checkout, in autocommit, and never changes session
state, so here a checkout is a list pop and a return a list append.

A connection whose statement did not complete (a broken connection, the caller's
timeout or cancellation) is never reused: it is retired in the background, first
letting asyncpg finish cancelling a query still running on the server (as asyncpg's
pool does), then closed; so is one whose statement ended in a connection error or an
operator's intervention (SQLSTATE classes 08, 57, XX), and the statement is tried once
more on another connection when its own is found closed (the hub only reads). One
whose statement the server merely refused (a bad cast, a division by zero) is ready
for the next and stays. A place is free once its connection is gone, so at most
`max_size` connections are open at any moment. Connections are opened on demand, most
recently used first, and the server closing one idle is noticed at checkout. A
connection left idle for `idle_timeout` seconds is closed (asyncpg's pool does the
same after 300 s), so a hub quiet at night does not hold every OPD server's
connections.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpg

CANCEL_WAIT = 5.0  # seconds a retiring connection may take to cancel its query on the server
CLOSE_WAIT = 5.0  # seconds `close` waits for connections to close gracefully
IDLE_TIMEOUT = 300.0  # default seconds an idle connection is kept (asyncpg's pool: the same)


# SQLSTATE classes after which a connection is not reused: connection exceptions,
# operator intervention (a cancelled query, the server shutting down), internal errors.
_NOT_REUSED = ("08", "57", "XX")


class Pool:
    def __init__(
        self,
        dsn: str,
        max_size: int,
        idle_timeout: float = IDLE_TIMEOUT,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        import asyncpg  # when the first PostgreSQL source or store is used (start-up time)

        self.server_settings = server_settings  # each connection's session settings

        self._server_error = asyncpg.PostgresError
        self._client_error = asyncpg.InternalClientError
        self._interface_error = asyncpg.InterfaceError
        self.dsn = dsn
        self.max_size = max_size
        self.idle_timeout = idle_timeout
        self._idle: list[asyncpg.Connection] = []  # least recently used first
        self._idle_since: list[float] = []  # loop time each idle connection came back
        self._reaper: asyncio.TimerHandle | None = None
        self._size = 0  # connections open, being opened, or retiring
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = collections.deque()
        self._retiring: set[asyncio.Task[None]] = set()
        self._closed = False

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = self._take() or await self._wait()
        try:
            return await self._fetch_on(conn, sql, args)
        except (self._client_error, self._server_error, self._interface_error, OSError) as e:
            # Once more on another connection, when this one was unusable: asyncpg refused
            # before sending anything (it was still winding down an error the server sent
            # while it sat idle), or the connection is gone (the server ended it, often
            # before asyncpg noticed, or it broke). The hub's statements are reads.
            if not isinstance(e, self._client_error) and not conn.is_closed():
                raise  # the statement failed on a live connection: its own error
        return await self._fetch_on(self._take() or await self._wait(), sql, args)

    async def _fetch_on(
        self, conn: asyncpg.Connection, sql: str, args: tuple[Any, ...]
    ) -> list[asyncpg.Record]:
        """`sql` on `conn`; then `conn` back to the pool, or retired if it may be unusable."""
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        except self._server_error as e:
            if _refused(conn, e):  # the server refused the statement and waits for the next
                self._give(conn)
            else:
                self._retire(conn)
            raise
        except BaseException:
            self._retire(conn)
            raise
        self._give(conn)
        return rows

    # --- checkout and return --------------------------------------------------------

    def _take(self) -> asyncpg.Connection | None:
        while self._idle:
            conn = self._idle.pop()
            self._idle_since.pop()
            if not conn.is_closed():
                return conn
            self._size -= 1  # the server closed it while idle
        return None

    async def _wait(self) -> asyncpg.Connection:
        import asyncpg

        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the connection pool is closed")
            conn = self._take()
            if conn is not None:
                return conn
            if self._size < self.max_size:
                self._size += 1
                try:
                    return await asyncpg.connect(self.dsn, server_settings=self.server_settings)
                except BaseException:
                    self._freed()
                    raise
            waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed something as it was cancelled
                    late = waiter.result()
                    if late is None:
                        self._freed()  # pass the free place on
                    else:
                        self._give(late)
                raise
            if handed is not None:
                return handed
            self._size -= 1  # None: a place came free, and it is this waiter's to open (loop)

    def _give(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed():
            self._retire(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)
        loop = asyncio.get_running_loop()
        self._idle_since.append(loop.time())
        if self._reaper is None:
            self._reaper = loop.call_at(self._idle_since[0] + self.idle_timeout, self._reap)

    def _reap(self) -> None:
        """Close the connections idle for `idle_timeout`; come back for the next one."""
        self._reaper = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self.idle_timeout
        stale = 0
        while stale < len(self._idle_since) and self._idle_since[stale] <= cutoff:
            stale += 1
        for conn in self._idle[:stale]:
            self._retire(conn)
        del self._idle[:stale], self._idle_since[:stale]
        if self._idle and not self._closed:
            self._reaper = loop.call_at(self._idle_since[0] + self.idle_timeout, self._reap)

    def _freed(self) -> None:
        """A place came free: the first live waiter may open a connection in it."""
        self._size -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._size += 1  # held for that waiter until it opens (or gives it back)
                waiter.set_result(None)
                return

    def _retire(self, conn: asyncpg.Connection) -> None:
        task = asyncio.get_running_loop().create_task(self._close_quietly(conn))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _close_quietly(self, conn: asyncpg.Connection) -> None:
        try:
            protocol = getattr(conn, "_protocol", None)
            if protocol is not None and protocol._is_cancelling():
                # asyncpg is asking the server to stop the query; closing now would cancel that
                await protocol._wait_for_cancellation(CANCEL_WAIT)
            if not conn.is_closed():
                await asyncio.wait_for(conn.close(), CLOSE_WAIT)
        except (Exception, asyncio.CancelledError):
            conn.terminate()
        finally:
            self._freed()

    # --- stopping -------------------------------------------------------------------

    async def close(self) -> None:
        """Close idle connections now, the others as their statements finish."""
        import asyncpg

        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the connection pool is closed"))
        self._waiters.clear()
        idle, self._idle, self._idle_since = self._idle, [], []
        self._stop_reaper()
        for conn in idle:
            self._retire(conn)
        if self._retiring:
            await asyncio.wait(set(self._retiring), timeout=CANCEL_WAIT + CLOSE_WAIT)

    def terminate(self) -> None:
        """Close every connection at once, without waiting."""
        self._closed = True
        self._stop_reaper()
        for conn in self._idle:
            conn.terminate()
        self._idle.clear()
        self._idle_since.clear()
        for task in self._retiring:
            task.cancel()

    def _stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None


def _refused(conn: asyncpg.Connection, e: asyncpg.PostgresError) -> bool:
    """Whether `e` refused one statement on a connection that stays usable (a bad cast,
    a division by zero), rather than ending or interrupting the connection."""
    sqlstate = str(getattr(e, "sqlstate", "") or "")
    return (
        bool(sqlstate) and sqlstate[:2] not in _NOT_REUSED
        and not conn.is_closed() and not conn.is_in_transaction()
    )  # fmt: skip
