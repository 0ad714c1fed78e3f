"""The web board's server: uvicorn (its h11 protocol, no C extension), with what a server exposed to a
network needs beyond its defaults: a request's head must arrive within ``HEAD_SECONDS`` of the
connection (or of the previous answer), so a client that trickles its headers (slowloris) is cut off
rather than holding a connection for ever; and at most ``CONNECTIONS`` connections at once, beyond
which a request is answered 503 at once instead of the process running out of file descriptors."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_SECONDS = 10.0
CONNECTIONS = 500


class Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_late)

    def _head_late(self) -> None:
        """No whole request head since the connection (or the last answer): close it."""
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def run(app: Any, listening: socket.socket, proxy: str | None) -> None:
    server = uvicorn.Server(uvicorn.Config(
        app, http=Protocol, log_level="warning", access_log=False, server_header=False,
        proxy_headers=proxy is not None, forwarded_allow_ips=proxy, h11_max_incomplete_event_size=64 * 1024,
        limit_concurrency=CONNECTIONS, timeout_keep_alive=5))
    server.run(sockets=[listening])
