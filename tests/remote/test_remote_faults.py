"""The remote never makes a local operation fail or hang.

Faults are injected by a loopback proxy in front of the S3 server
(:class:`remote.s3server.FaultProxy`): 500 and 503 answers, a connection dropped
halfway through a wheel's body, a server that never answers, and a port
where nothing listens. Each time the local build goes on, the remote gets
one warning and is skipped for the rest of the process, and nothing the
remote sent is published.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from procs import DEADLINE, Child
from remote.remote_kit import SDIST, builder, machine
from remote.s3server import FaultProxy
from wheelcache import Source

if TYPE_CHECKING:
    from collections.abc import Iterator

    from remote.conftest import S3


@pytest.fixture
def proxies(s3: S3) -> Iterator[list[FaultProxy]]:
    made: list[FaultProxy] = []
    yield made
    for proxy in made:
        proxy.close()


def through(
    proxies: list[FaultProxy], s3: S3, monkeypatch: pytest.MonkeyPatch, fault: str, on: str = ""
) -> FaultProxy:
    """Point the environment at a proxy that answers requests whose path contains *on* so."""
    proxy = FaultProxy(s3.port, lambda method, path: fault if on in path else None)
    proxies.append(proxy)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    return proxy


def warnings_about_the_remote(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is unavailable" in r.getMessage()]


def seeded(tmp_path: Path, s3: S3) -> str:
    """Machine A builds SDIST and pushes it (a large-ish wheel); its SHA-256."""
    a = machine(tmp_path, "a", s3.url)

    def build(output: Path) -> None:
        from wheelfactory import make_wheel

        make_wheel(output, "demo", "1.0", payload_size=3_000_000)

    built = a.get_or_build(SDIST, build)
    assert a.flush(60)
    return built.sha256


@pytest.mark.parametrize("status", ["500", "503"])
def test_error_answers_mean_local_only_with_one_warning(
    tmp_path: Path,
    s3: S3,
    proxies: list[FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: str,
) -> None:
    seeded(tmp_path, s3)
    proxy = through(proxies, s3, monkeypatch, status)
    b = machine(tmp_path, "b", s3.url)
    build, calls = builder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="wheelcache"):
        b.get_or_build(SDIST, build)
        asked = len(proxy.faults)
        other = Source("sha256:" + "8" * 64, "", "other")
        b.get_or_build(other, builder(tmp_path, "other")[0])
        assert b.flush(60)
    assert calls == [1]
    assert asked >= 1
    assert len(proxy.faults) == asked  # skipped for the rest of the process
    assert len(warnings_about_the_remote(caplog)) == 1


def test_an_unreachable_remote_means_local_only_with_one_warning(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")  # nothing listens
    b = machine(tmp_path, "b", s3.url)
    with caplog.at_level(logging.WARNING, logger="wheelcache"):
        for number in range(3):
            build, calls = builder(tmp_path, f"p{number}")
            b.get_or_build(Source(f"sha256:{number:064d}", "", f"p{number}"), build)
            assert calls == [1]
        assert b.get(Source("sha256:" + "9" * 64)) is None
    assert len(warnings_about_the_remote(caplog)) == 1
    status = b.remote_status()
    assert status is not None
    assert not status.answered


def test_a_connection_dropped_mid_body_publishes_nothing_and_the_build_goes_on(
    tmp_path: Path,
    s3: S3,
    proxies: list[FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeded(tmp_path, s3)
    proxy = through(proxies, s3, monkeypatch, "drop", on="/wheels-v1/")
    b = machine(tmp_path, "b", s3.url)
    build, calls = builder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="wheelcache"):
        got = b.get_or_build(SDIST, build)
    assert {fault for _, _, fault in proxy.faults} == {"drop"}
    assert calls == [1]
    assert [w.sha256 for w in b.wheels()] == [got.sha256]  # only what was built here
    assert list((tmp_path / "b" / "staging-v1").iterdir()) == []
    assert len(warnings_about_the_remote(caplog)) == 1


def test_a_remote_that_never_answers_cannot_hang_a_build(
    tmp_path: Path, s3: S3, proxies: list[FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(tmp_path, s3)
    proxy = through(proxies, s3, monkeypatch, "hang")
    builds = tmp_path / "builds"
    builds.mkdir()
    env = {"WHEELCACHE_REMOTE": s3.url, "WHEELCACHE_REMOTE_TIMEOUT": "1"}
    child = Child(
        {
            "op": "get_or_build",
            "root": str(tmp_path / "b"),
            "key": SDIST.key,
            "builds_dir": str(builds),
        },
        env=env,
    )
    result = child.result(deadline=DEADLINE)  # a hang misses the deadline and fails
    assert Path(result["path"]).is_file()
    assert (builds / "count").read_text().count("\n") == 1
    assert proxy.faults


def test_a_remote_miss_costs_one_request_and_a_pull_three(
    tmp_path: Path, s3: S3, proxies: list[FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(tmp_path, s3)
    proxy = through(proxies, s3, monkeypatch, "none", on="no request has this in its path")
    b = machine(tmp_path, "b", s3.url)
    assert b.get(Source("sha256:" + "9" * 64)) is None
    assert [method for method, _ in proxy.requests] == ["GET"]  # one LIST
    assert "list-type=2" in proxy.requests[0][1]
    proxy.requests.clear()
    assert b.get(SDIST) is not None
    assert len(proxy.requests) == 3  # LIST, the record, the wheel
