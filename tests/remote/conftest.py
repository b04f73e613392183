"""The remote-tier tests' S3 API: moto's server on 127.0.0.1, a fresh bucket per test."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from remote.s3server import bucket_objects, make_bucket

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class S3:
    """The loopback S3 server of this session, and this test's bucket on it."""

    port: int
    bucket: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/ci"

    def objects(self) -> dict[str, bytes]:
        return bucket_objects(self.endpoint, self.bucket)


@pytest.fixture(scope="session")
def _moto_port() -> Iterator[int]:
    pytest.importorskip("obstore", reason="the remote extra (obstore) is not installed")
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield server.get_host_and_port()[1]
    finally:
        server.stop()


@pytest.fixture
def s3(_moto_port: int, monkeypatch: pytest.MonkeyPatch) -> S3:
    """A fresh bucket on the loopback server; the environment points every client at it."""
    found = S3(_moto_port, "")
    found.bucket = make_bucket(found.endpoint)
    for name, value in {
        "AWS_ENDPOINT_URL": found.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "WHEELCACHE_REMOTE_TIMEOUT": "2",
    }.items():
        monkeypatch.setenv(name, value)
    return found
