"""7. Remote tier: a real S3 API on loopback (moto's server), obstore as the client.

* **pull vs plain GET**: ``get()`` of a 20 MB wheel that only the bucket has,
  into an existing local cache (list the revision, read its record, stream
  the wheel into staging while hashing, fsync, validate, publish, record in
  the pointer) vs a plain GET of the same object with the same client, read
  to the end. Target: at most 1.3x. A plain GET keeps nothing; the floor of
  any durable download (GET into a file, then fsync) is measured too, since
  on loopback, where moto serves from memory at GB/s, the disk dominates.
  The pair is measured again through ``_slowlink.SlowLink`` (100 MB/s,
  10 ms round trips), closer to a real bucket. Each pull first forgets the
  entry and its pointer, untimed.
* **remote miss**: ``get()`` of a source nothing has, with a remote and
  without; the difference is compared with one round trip (a LIST of an
  empty prefix with the same client). Target: at most one round trip
  (ratio <= 1, with a little room for noise).
* **CI scenario**: a second machine needing 20 sdists a first machine built
  and pushed: ``get_or_build`` of each with the remote vs without (building
  each with pypa/build, no isolation, and the benchmarks' in-tree backend,
  the cheapest build there is: real projects take far longer to build).

The server runs in this process on 127.0.0.1; so its CPU time competes with
the client's, which makes every figure here pessimistic for a real bucket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import urllib.request
from typing import TYPE_CHECKING

from _harness import Context, interleaved
from _wheels import make_sdist, make_wheel, payload

if TYPE_CHECKING:
    from collections.abc import Callable

SECTION = "7. remote tier (loopback S3)"


def _server() -> tuple[object, str, int]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    endpoint = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/wheelcache-bench", method="PUT"), timeout=30
    ):
        pass
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
    )
    return server, "s3://wheelcache-bench/bench", port


def run(ctx: Context) -> None:
    try:
        import obstore  # noqa: F401
        from moto.server import ThreadedMotoServer  # noqa: F401
    except ImportError as exc:
        ctx.report.status(SECTION, "not available", f"{exc.name} is not installed")
        return
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server, url, port = _server()
    try:
        _pull_vs_get(ctx, url)
        _pull_vs_get_over_a_link(ctx, url, port)
        _remote_miss(ctx, url)
        _ci_scenario(ctx, url)
    finally:
        server.stop()  # type: ignore[attr-defined]
    ctx.report.status(SECTION, "ran", server="moto ThreadedMotoServer on 127.0.0.1")


def _pull_vs_get(ctx: Context, url: str) -> None:
    from wheelcache import Source, WheelCache
    from wheelcache._fs.fsutil import remove_tree
    from wheelcache._layout import Layout
    from wheelcache._remote.objects import ObjectStore
    from wheelcache._remote.records import wheel_key

    base = ctx.scratch("remote-pull")
    size = ctx.pick(2_000_000, 20_000_000)
    wheel = make_wheel(base / "w", "big", "1.0", data=payload(size))
    source = Source("sha256:" + "b" * 64, "", "big")
    seeder = WheelCache(base / "seed", remote=url)
    added = seeder.add(source, wheel)
    assert seeder.flush(300)
    objects = ObjectStore(url)
    key = wheel_key(added.sha256, added.filename)
    # One local cache, as on a CI machine: its root and shards exist. Each
    # round forgets the wheel (entry and pointer) and pulls it again.
    cache = WheelCache(base / "local", remote=url)
    layout = Layout(cache.root)

    def pull() -> None:
        hit = cache.get(source)
        assert hit is not None
        assert hit.size == added.size

    def forget() -> None:  # untimed, before each pull
        remove_tree(layout.entry_dir(added.sha256))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(layout.pointer_file(source.digest))

    def plain_get() -> None:
        chunks = objects.get(key)
        assert chunks is not None
        assert sum(len(chunk) for chunk in chunks) == added.size

    landing = base / "landing"

    def get_to_disk() -> None:
        chunks = objects.get(key)
        assert chunks is not None
        with open(landing, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.unlink(landing)

    times = rounds_with_setup(
        {"pull": pull, "get": plain_get, "durable": get_to_disk},
        {"pull": forget},
        rounds=ctx.pick(3, 15),
    )
    label = f"{size / 1e6:.0f} MB wheel"
    report = ctx.report
    report.figure(SECTION, f"pull into the local cache, {label}", times["pull"], "ms", scale=1e3)
    report.figure(SECTION, f"plain GET, same client, {label}", times["get"], "ms", scale=1e3)
    report.figure(
        SECTION, f"floor: GET into a file + fsync, {label}", times["durable"], "ms", scale=1e3
    )
    report.ratio(
        SECTION, f"pull / plain GET, {label}", times["pull"], times["get"], target=("<=", 1.3)
    )
    report.ratio(
        SECTION,
        f"pull / (GET into a file + fsync), {label}",
        times["pull"],
        times["durable"],
        note="what a durable download costs at least",
    )


def _pull_vs_get_over_a_link(ctx: Context, url: str, port: int) -> None:
    """The same comparison through a link like a real bucket's: 100 MB/s, 10 ms round trips."""
    from _slowlink import SlowLink

    from wheelcache import Source, WheelCache
    from wheelcache._fs.fsutil import remove_tree
    from wheelcache._layout import Layout
    from wheelcache._remote.objects import ObjectStore
    from wheelcache._remote.records import wheel_key

    base = ctx.scratch("remote-link")
    size = ctx.pick(2_000_000, 20_000_000)
    wheel = make_wheel(base / "w", "linked", "1.0", data=payload(size, seed=7))
    source = Source("sha256:" + "c" * 64, "", "linked")
    seeder = WheelCache(base / "seed", remote=url)
    added = seeder.add(source, wheel)
    assert seeder.flush(300)
    link = SlowLink(port, latency=0.010, bandwidth=100e6)
    direct = os.environ["AWS_ENDPOINT_URL"]
    os.environ["AWS_ENDPOINT_URL"] = link.endpoint  # read when each client is made
    try:
        cache = WheelCache(base / "local", remote=url)
        objects = ObjectStore(url)
        layout = Layout(cache.root)
        key = wheel_key(added.sha256, added.filename)

        def pull() -> None:
            assert cache.get(source) is not None

        def forget() -> None:  # untimed, before each pull
            remove_tree(layout.entry_dir(added.sha256))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(layout.pointer_file(source.digest))

        def plain_get() -> None:
            chunks = objects.get(key)
            assert chunks is not None
            assert sum(len(chunk) for chunk in chunks) == added.size

        times = rounds_with_setup(
            {"pull": pull, "get": plain_get}, {"pull": forget}, rounds=ctx.pick(3, 15)
        )
    finally:
        os.environ["AWS_ENDPOINT_URL"] = direct
        link.close()
    label = f"{size / 1e6:.0f} MB wheel, 100 MB/s and 10 ms link"
    report = ctx.report
    report.figure(SECTION, f"pull, {label}", times["pull"], "ms", scale=1e3)
    report.figure(SECTION, f"plain GET, {label}", times["get"], "ms", scale=1e3)
    report.ratio(
        SECTION, f"pull / plain GET, {label}", times["pull"], times["get"], target=("<=", 1.3)
    )


def rounds_with_setup(
    cases: dict[str, Callable[[], object]],
    setup: dict[str, Callable[[], object]],
    *,
    rounds: int,
) -> dict[str, list[float]]:
    """Like ``interleaved`` (one call per case per round, order rotating, one warm-up
    round), but running a case's *setup* untimed right before each of its calls."""
    names = list(cases)
    results: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds + 1):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            if name in setup:
                setup[name]()
            started = time.perf_counter()
            cases[name]()
            if index:
                results[name].append(time.perf_counter() - started)
    return results


def _remote_miss(ctx: Context, url: str) -> None:
    from wheelcache import Source, WheelCache
    from wheelcache._remote.objects import ObjectStore

    base = ctx.scratch("remote-miss")
    with_remote = WheelCache(base / "a", remote=url)
    local_only = WheelCache(base / "a")
    objects = ObjectStore(url)
    sources = iter(range(10**6))

    def missing() -> Source:
        return Source(f"sha256:{next(sources):064x}", "", "nothing")

    with_remote.get(missing())  # the client is made once per cache, on its first miss
    cases = {
        "remote miss": (lambda: with_remote.get(missing()), 20),
        "local miss": (lambda: local_only.get(missing()), 20),
        "round trip": (lambda: next(iter(objects.list("nothing-here/")), None), 20),
    }
    times = interleaved(cases, rounds=ctx.pick(3, 15))
    for name, values in times.items():
        ctx.report.figure(SECTION, f"{name} (get of a source nothing has)", values, "ms", scale=1e3)
    added = [r - m for r, m in zip(times["remote miss"], times["local miss"])]
    ctx.report.ratio(
        SECTION,
        "(remote miss - local miss) / one round trip",
        added,
        times["round trip"],
        target=("<=", 1.2),
    )


def _ci_scenario(ctx: Context, url: str) -> None:
    from wheelcache import Source, WheelCache
    from wheelcache._build.builder import build_wheel

    base = ctx.scratch("remote-ci")
    count = ctx.pick(3, 20)
    sdists = [make_sdist(base / "sdists" / str(n), f"ciproj{n}", "1.0") for n in range(count)]
    sources = [Source.from_archive(path) for path in sdists]
    first = WheelCache(base / "first", remote=url)
    for path, source in zip(sdists, sources):
        first.get_or_build(source, lambda out, path=path: build_wheel(path, out, isolation=False))
    assert first.flush(300)
    rounds = iter(range(10**6))

    def second_machine(remote: str) -> None:
        root = base / f"second{next(rounds)}"
        cache = WheelCache(root, remote=remote)
        for path, source in zip(sdists, sources):
            cache.get_or_build(
                source, lambda out, path=path: build_wheel(path, out, isolation=False)
            )
        cache.flush(300)
        shutil.rmtree(root)

    times = interleaved(
        {"remote": (lambda: second_machine(url), 1), "build": (lambda: second_machine(""), 1)},
        rounds=ctx.pick(1, 3),
        warmup=0,
    )
    label = f"{count} sdists"
    ctx.report.figure(SECTION, f"second machine, with the remote, {label}", times["remote"], "s")
    ctx.report.figure(SECTION, f"second machine, building, {label}", times["build"], "s")
    ctx.report.ratio(
        SECTION, f"with the remote / building, {label}", times["remote"], times["build"]
    )
