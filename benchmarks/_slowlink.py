"""A loopback TCP relay that behaves like a network link: latency and bandwidth.

Bytes in each direction are relayed in chunks; when the traffic of a
connection turns around (a response after its request, the next request
after a response) the first chunk waits ``latency / 2``, and every chunk
waits ``size / bandwidth`` after it is sent, so a 20 MB body at 100 MB/s
takes 200 ms. Not HTTP-aware, and good enough to
compare two clients of the same server through the same link.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

__all__ = ["SlowLink"]


class SlowLink:
    """Listens on 127.0.0.1 and relays every connection to *upstream_port*."""

    def __init__(self, upstream_port: int, *, latency: float, bandwidth: float) -> None:
        self.upstream_port = upstream_port
        self.latency = latency
        self.bandwidth = bandwidth
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            turn: list[socket.socket | None] = [None]  # who sent last on this connection
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, target, turn), daemon=True
                ).start()

    def _pump(
        self, source: socket.socket, target: socket.socket, turn: list[socket.socket | None]
    ) -> None:
        try:
            while data := source.recv(256 * 1024):
                if turn[0] is not source:
                    turn[0] = source
                    time.sleep(self.latency / 2)
                target.sendall(data)
                time.sleep(len(data) / self.bandwidth)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
