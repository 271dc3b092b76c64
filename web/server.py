"""The HTTP protocol ``rectify serve`` runs uvicorn with: h11, with Nagle's algorithm off on every
connection.

With several workers uvicorn hands each worker the listening socket, and the connections they
accept lose ``TCP_NODELAY``: every response after the first on a kept-alive connection then waits
for the client's delayed ACK, ~40 ms (measured here: a static file 44–48 ms with two workers,
2–4 ms with one; uvicorn issue #3149). Setting it per connection restores the 2–4 ms.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
