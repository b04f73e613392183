"""A real S3 API on loopback for the remote-tier tests: moto's server, and a fault proxy.

:func:`moto_endpoint` starts moto's ``ThreadedMotoServer`` on 127.0.0.1 with a
port the kernel picks, once per session. Each test gets its own bucket
(:func:`make_bucket`, one plain HTTP ``PUT``), fake credentials and
``AWS_ENDPOINT_URL`` pointing at the server or at a :class:`FaultProxy` in
front of it; no traffic leaves 127.0.0.1.

:class:`FaultProxy` forwards HTTP/1.1 requests one at a time per connection
and can, for chosen requests: answer with a status of its own (500, 503)
without asking the server, close the connection halfway through the
response body, or never answer at all.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
import uuid
from typing import Callable

__all__ = ["FaultProxy", "bucket_objects", "delete_object", "make_bucket", "put_object"]

Fault = Callable[[str, str], "str | None"]
"""Told (method, path) of a request; returns None to forward it, or a fault:
"500", "503" (answer so), "drop" (forward, then cut the body in half),
"hang" (read the request, never answer)."""


def make_bucket(endpoint: str) -> str:
    """Create a fresh bucket on the server at *endpoint*; return its name."""
    name = f"wc-{uuid.uuid4().hex[:16]}"
    request = urllib.request.Request(f"{endpoint}/{name}", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return name


def _bucket(endpoint: str, bucket: str):  # type: ignore[no-untyped-def]
    from obstore.store import S3Store

    return S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        region="us-east-1",
        client_options={"allow_http": True},
    )


def bucket_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    """Every object in the bucket, by key, read with a client of its own."""
    import obstore

    store = _bucket(endpoint, bucket)
    keys = [meta["path"] for batch in obstore.list(store) for meta in batch]
    return {key: bytes(obstore.get(store, key).bytes()) for key in keys}


def put_object(endpoint: str, bucket: str, key: str, data: bytes) -> None:
    """Overwrite an object behind the cache's back (what a hostile writer could do)."""
    import obstore

    obstore.put(_bucket(endpoint, bucket), key, data)


def delete_object(endpoint: str, bucket: str, key: str) -> None:
    """Delete an object behind the cache's back."""
    import obstore

    obstore.delete(_bucket(endpoint, bucket), key)


class FaultProxy:
    """A loopback HTTP proxy in front of the S3 server that injects faults."""

    def __init__(self, upstream_port: int, fault: Fault) -> None:
        self.upstream_port = upstream_port
        self.fault = fault
        self.faults: list[tuple[str, str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            reader = client.makefile("rb")
            while True:
                request = _read_message(reader, is_request=True)
                if request is None:
                    return
                head, body = request
                method, path = head.split(b" ", 2)[:2]
                self.requests.append((method.decode(), path.decode()))
                fault = self.fault(method.decode(), path.decode())
                if fault is not None:
                    self.faults.append((method.decode(), path.decode(), fault))
                if fault == "hang":
                    self._closed.wait(120)
                    return
                if fault in ("500", "503"):
                    text = b"Internal Error" if fault == "500" else b"Slow Down"
                    client.sendall(
                        b"HTTP/1.1 " + fault.encode() + b" " + text + b"\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    return
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                    upstream_reader = upstream.makefile("rb")
                upstream.sendall(head + body)
                response = _read_message(upstream_reader, is_request=False, method=method)
                if response is None:
                    return
                answer_head, answer_body = response
                if fault == "drop" and answer_body:
                    client.sendall(answer_head + answer_body[: len(answer_body) // 2])
                    return
                client.sendall(answer_head + answer_body)
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _read_message(reader, *, is_request: bool, method: bytes = b"GET"):  # type: ignore[no-untyped-def]
    """One HTTP/1.1 message as (head bytes, body bytes), or None at end of stream."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        if not line:
            return None
        head += line
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not is_request and method == b"HEAD":
        return head, b""
    if chunked:
        body = b""
        while True:
            size_line = reader.readline()
            size = int(size_line.split(b";")[0].strip(), 16)
            chunk = reader.read(size + 2)
            body += size_line + chunk
            if size == 0:
                break
        return head, body
    return head, reader.read(length) if length else b""
