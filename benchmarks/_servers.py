"""Servers in processes of their own on 127.0.0.1: moto's S3, and the slow link in front of it.

Started in this process (``ThreadedMotoServer``, ``_slowlink.SlowLink``), a
server's Python threads would share the benchmark's interpreter lock with
the client they serve, and that costs a pull, which runs Python between
chunks, more than a plain GET, which runs almost none: the comparison would
measure the servers fighting the client, not the client.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["MotoProcess", "SlowLinkProcess"]


def _serve_moto(connection: Connection) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    connection.send(server.get_host_and_port()[1])
    connection.recv()  # until told to stop
    server.stop()


def _serve_link(connection: Connection, upstream: int, latency: float, bandwidth: float) -> None:
    from _slowlink import SlowLink

    link = SlowLink(upstream, latency=latency, bandwidth=bandwidth)
    connection.send(link.port)
    connection.recv()  # until told to stop
    link.close()


class _ServerProcess:
    """A server in a spawned child that sends its port, then serves until told to stop."""

    def __init__(self, target: Any, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, theirs = context.Pipe()
        self._process: Any = context.Process(target=target, args=(theirs, *args), daemon=True)
        self._process.start()
        if not self._connection.poll(120):
            self.stop()
            raise RuntimeError("a benchmark server did not start within 120 s")
        self.port: int = self._connection.recv()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(None)
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(30)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class MotoProcess(_ServerProcess):
    """moto's S3 server in a child process; :meth:`bucket` makes a bucket to use."""

    def __init__(self) -> None:
        super().__init__(_serve_moto)

    def bucket(self, name: str) -> str:
        """Create bucket *name*, point the AWS environment at this server; the remote URL."""
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=30):
            pass
        os.environ.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
        )
        return f"s3://{name}/bench"


class SlowLinkProcess(_ServerProcess):
    """``_slowlink.SlowLink`` to *upstream* in a child process."""

    def __init__(self, upstream: int, *, latency: float, bandwidth: float) -> None:
        super().__init__(_serve_link, upstream, latency, bandwidth)
