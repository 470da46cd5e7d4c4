"""A TCP endpoint for the soak's faults: a process of its own that forwards a loopback
port to a server and obeys one command per line on stdin.

    python bench/soak_proxy.py --port 6001 --target 127.0.0.1:5432

    down        close the listening socket and every connection (clients see resets and
                refusals: the server behind has gone)
    up          listen again on the same port
    slow MS     hold each chunk from the server MS milliseconds before passing it on
    fast        no delay

Killing the process (SIGKILL) and starting another on the same port is a source killed and
restarted, as its clients see it. Prints `ready PORT` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import sys


class Endpoint:
    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self.delay = 0.0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self.link, "127.0.0.1", self.port, reuse_address=True)

    async def down(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()
        for w in list(self.links):
            w.transport.abort()  # a reset, as from a process that died
        self.links.clear()

    async def link(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self.links |= {client_w, server_w}
        try:
            await asyncio.gather(self.pipe(client_r, server_w, False), self.pipe(server_r, client_w, True))
        finally:
            self.links -= {client_w, server_w}

    async def pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, from_server: bool) -> None:
        try:
            while data := await r.read(65536):
                if from_server and self.delay:
                    await asyncio.sleep(self.delay)
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()


async def serve(endpoint: Endpoint) -> None:
    await endpoint.up()
    print(f"ready {endpoint.port}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "down":
            await endpoint.down()
        elif line[0] == "up":
            await endpoint.up()
        elif line[0] == "slow":
            endpoint.delay = float(line[1]) / 1000
        elif line[0] == "fast":
            endpoint.delay = 0.0
        print(f"done {' '.join(line)}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target", required=True, help="HOST:PORT of the server behind")
    args = p.parse_args()
    host, _, port = args.target.rpartition(":")
    asyncio.run(serve(Endpoint(args.port, (host, int(port)))))


if __name__ == "__main__":
    main()
