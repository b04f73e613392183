"""7. Remote tier: a real S3 API on loopback (moto's server), obstore as the client.

* **pull vs plain GET**: ``get()`` of a 20 MB wheel that only the bucket has,
  into an existing local cache (list the revision, read its record while
  streaming the wheel into staging and hashing it, fsync, validate, publish, record
  in the pointer) against the same object fetched by the same client
  (``_remote.objects.ObjectStore.get``, the pull's own call) three ways:
  into memory and dropped (the issue's "plain GET"), into a file, and into
  a file then fsynced. The last is the fair floor: a pull's product is a
  durable file, and the cache may not publish one before its fsync
  (docs/design.md §3), so no correct pull can beat it; a GET into memory
  keeps nothing and pays for no disk at all. Target: at most 1.3x. Before
  each case that ends in an fsync, dirty pages are written back, untimed,
  so none pays for another's; each pull first forgets the entry and its
  pointer, untimed. On bare loopback the same rounds also time each
  ingredient of a pull on its own (the LIST, the record's GET, SHA-256 of
  the bytes in memory, validating the wheel file, writing and fsyncing it
  without a network), so each can be set against the GET. The comparison
  is made again through ``_slowlink.SlowLink`` (100 MB/s, 10 ms round trips;
  in a child process of its own, like the server), closer to a real bucket.
  Both times the same wheel is also pulled under a record of the first layout
  (``<sha256>.json``, as earlier versions of wheelcache wrote them), which must be read
  before the wheel's GET can start: the ratio of the two pulls, in the same
  rounds, is what reading the record alongside the wheel saves.
* **remote miss**: ``get()`` of a source nothing has, with a remote and
  without; the difference is compared with one round trip (a LIST of an
  empty prefix with the same client). Target: at most one round trip
  (ratio <= 1, with a little room for noise).
* **CI scenario**: a second machine needing 20 sdists a first machine built
  and pushed: ``get_or_build`` of each with the remote vs without (building
  each with pypa/build, no isolation, and the benchmarks' in-tree backend,
  the cheapest build there is: real projects take far longer to build).

The server runs in a child process on 127.0.0.1 (``_servers.MotoProcess``): on
this 2-core machine its CPU time still competes with the client's, which
makes every figure here pessimistic for a real bucket.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from typing import TYPE_CHECKING

from _harness import Context, drop_dirty_pages, interleaved
from _wheels import make_sdist, make_wheel, payload

if TYPE_CHECKING:
    from collections.abc import Callable

    from wheelcache import CachedWheel, Source, WheelCache
    from wheelcache._remote.objects import ObjectStore

SECTION = "7. remote tier (loopback S3)"


def run(ctx: Context) -> None:
    try:
        import obstore  # noqa: F401
        from moto.server import ThreadedMotoServer  # noqa: F401
    except ImportError as exc:
        ctx.report.status(SECTION, "not available", f"{exc.name} is not installed")
        return
    from _servers import MotoProcess

    load_before = os.getloadavg()
    server = MotoProcess()
    try:
        url = server.bucket("wheelcache-bench")
        _pull_vs_get(ctx, url)
        _pull_vs_get_over_a_link(ctx, url, server.port)
        _remote_miss(ctx, url)
        _ci_scenario(ctx, url)
    finally:
        server.stop()
    ctx.report.status(
        SECTION,
        "ran",
        server="moto ThreadedMotoServer in a child process on 127.0.0.1",
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
    )


class _Pulled:
    """A 20 MB wheel only the bucket has, and a cache that pulls it again each round."""

    def __init__(self, ctx: Context, url: str, name: str, seed: int) -> None:
        from wheelcache import Source, WheelCache
        from wheelcache._remote.objects import ObjectStore
        from wheelcache._remote.records import wheel_key

        self.base = ctx.scratch(f"remote-{name}")
        self.size = ctx.pick(2_000_000, 20_000_000)
        self.wheel = make_wheel(self.base / "w", name, "1.0", data=payload(self.size, seed=seed))
        self.source: Source = Source("sha256:" + f"{seed:x}" * 64, "", name)
        # The same wheel under a second source whose record is in the first layout
        # (<sha256>.json, as earlier versions wrote it): read before the wheel.
        self.old_source: Source = Source("sha256:" + f"{seed + 1:x}" * 64, "", name)
        seeder = WheelCache(self.base / "seed", remote=url)
        self.added: CachedWheel = seeder.add(self.source, self.wheel)
        seeder.add(self.old_source, self.wheel)
        assert seeder.flush(300)
        _to_first_layout(ObjectStore(url), self.old_source, self.added)
        self.url = url
        self.key = wheel_key(self.added.sha256, self.added.filename)
        self.landing = self.base / "landing"
        # Made after the caller points AWS_ENDPOINT_URL where it wants.
        self.cache: WheelCache = WheelCache(self.base / "local", remote=url)
        self.objects: ObjectStore = ObjectStore(url)

    def forget(self) -> None:
        """Untimed, before each pull: remove the entry and the pointers, write back dirty pages."""
        from wheelcache._fs.fsutil import remove_tree
        from wheelcache._layout import Layout

        layout = Layout(self.cache.root)
        remove_tree(layout.entry_dir(self.added.sha256))
        for source in (self.source, self.old_source):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(layout.pointer_file(source.digest))
        drop_dirty_pages()

    def setups(self) -> dict[str, Callable[[], object]]:
        """What runs untimed before each case that ends in an fsync."""
        return {
            "pull": self.forget,
            "pull-old": self.forget,
            "durable": drop_dirty_pages,
            "write+fsync": drop_dirty_pages,
        }

    def pull(self, source: Source | None = None) -> None:
        hit = self.cache.get(source or self.source)
        assert hit is not None
        assert hit.size == self.added.size

    def get_into_memory(self) -> None:
        chunks = self.objects.get(self.key)
        assert chunks is not None
        assert sum(len(chunk) for chunk in chunks) == self.added.size

    def get_into_file(self, *, fsync: bool) -> None:
        chunks = self.objects.get(self.key)
        assert chunks is not None
        fd = os.open(self.landing, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(self.landing)

    def transfers(self) -> dict[str, Callable[[], object]]:
        return {
            "pull": self.pull,
            "pull-old": lambda: self.pull(self.old_source),
            "memory": self.get_into_memory,
            "file": lambda: self.get_into_file(fsync=False),
            "durable": lambda: self.get_into_file(fsync=True),
        }

    def ingredients(self) -> dict[str, Callable[[], object]]:
        """Each part of a pull on its own, to set against the GET (bare loopback only)."""
        from wheelcache._remote.records import record_key, revision_prefix
        from wheelcache._wheels.wheelfile import validate_wheel

        data = self.wheel.read_bytes()
        record = record_key(self.source, self.added.sha256, self.added.filename)
        scratch = self.base / "scratch"

        def write_and_fsync() -> None:
            with open(scratch, "wb", buffering=0) as out:
                out.write(data)
                os.fsync(out.fileno())
            os.unlink(scratch)

        return {
            "list": lambda: list(self.objects.list(revision_prefix(self.source))),
            "record": lambda: self.objects.read(record),
            "sha256": lambda: hashlib.sha256(data).hexdigest(),
            "validate": lambda: validate_wheel(self.wheel),
            "write+fsync": write_and_fsync,
        }

    def report(self, ctx: Context, times: dict[str, list[float]], label: str) -> None:
        report = ctx.report
        names = {
            "pull": "pull into the local cache",
            "pull-old": "pull, record of the first layout (read before the wheel)",
            "memory": "GET into memory (plain GET)",
            "file": "GET into a file",
            "durable": "GET into a file + fsync (floor)",
        }
        for case, name in names.items():
            report.figure(SECTION, f"{name}, {label}", times[case], "ms", scale=1e3)
        targeted = {
            "durable": (
                "GET into a file + fsync",
                "the fair floor: a durable download's least cost",
            ),
            "memory": ("plain GET into memory", "the issue's words; keeps nothing, pays no disk"),
        }
        for case, (name, note) in targeted.items():
            report.ratio(
                SECTION,
                f"pull / {name}, {label}",
                times["pull"],
                times[case],
                target=("<=", 1.3),
                note=note,
            )
        report.ratio(SECTION, f"pull / GET into a file, {label}", times["pull"], times["file"])
        report.ratio(
            SECTION,
            f"pull / pull with a first-layout record, {label}",
            times["pull"],
            times["pull-old"],
            note="the record's GET alongside the wheel's vs before it",
        )


def _to_first_layout(objects: ObjectStore, source: Source, wheel: CachedWheel) -> None:
    """Move *source*'s record of *wheel* to where earlier versions of wheelcache kept it."""
    from wheelcache._remote.records import legacy_record_key, record_key

    current = record_key(source, wheel.sha256, wheel.filename)
    data = objects.read(current)
    assert data is not None
    objects.put_if_absent(legacy_record_key(source, wheel.sha256), data)
    objects.delete(current)


def _pull_vs_get(ctx: Context, url: str) -> None:
    pulled = _Pulled(ctx, url, "big", seed=11)
    cases = {**pulled.transfers(), **pulled.ingredients()}
    times = rounds_with_setup(cases, pulled.setups(), rounds=ctx.pick(3, 21))
    label = f"{pulled.size / 1e6:.0f} MB wheel, bare loopback"
    pulled.report(ctx, times, label)
    parts = {
        "list": "LIST of the revision",
        "record": "GET of the record",
        "sha256": "SHA-256 of the bytes in memory",
        "validate": "validate_wheel of the file",
        "write+fsync": "write the bytes to a file + fsync",
    }
    for case, name in parts.items():
        ctx.report.figure(SECTION, f"ingredient: {name}, {label}", times[case], "ms", scale=1e3)
        ctx.report.ratio(
            SECTION, f"ingredient: {name} / plain GET, {label}", times[case], times["memory"]
        )


def _pull_vs_get_over_a_link(ctx: Context, url: str, port: int) -> None:
    """The same comparison through a link like a real bucket's: 100 MB/s, 10 ms round trips."""
    from _servers import SlowLinkProcess

    link = SlowLinkProcess(port, latency=0.010, bandwidth=100e6)
    direct = os.environ["AWS_ENDPOINT_URL"]
    os.environ["AWS_ENDPOINT_URL"] = link.endpoint  # read when each client is made
    try:
        pulled = _Pulled(ctx, url, "linked", seed=7)
        times = rounds_with_setup(pulled.transfers(), pulled.setups(), rounds=ctx.pick(3, 15))
    finally:
        os.environ["AWS_ENDPOINT_URL"] = direct
        link.stop()
    pulled.report(ctx, times, f"{pulled.size / 1e6:.0f} MB wheel, 100 MB/s and 10 ms link")


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
