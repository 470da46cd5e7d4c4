"""A TCP proxy on loopback in front of a real server, and a port nobody listens on:
sources (or stores) that die and come back, for fault tests."""

from __future__ import annotations

import asyncio
import socket


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now: a source that is down."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


class Proxy:
    """A TCP proxy on loopback in front of a real server, that can be taken down and
    brought back on the same port: a source that dies and returns."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = closed_port()
        self.server: asyncio.Server | None = None
        self.links: list[asyncio.StreamWriter] = []

    async def up(self) -> None:
        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        async def link(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
            self.links += [client_w, server_w]
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

        self.server = await asyncio.start_server(link, "127.0.0.1", self.port, reuse_address=True)

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.links:
            w.close()
        self.links.clear()
        await self.server.wait_closed()
