"""Build real wheels, and deliberately broken ones, for the test suite.

Everything here is deterministic: the same arguments always produce the same
bytes (fixed timestamps and permissions, members in a fixed order), so tests can
compare files and digests. Import it as ``from wheelfactory import make_wheel``;
pytest's ``pythonpath`` setting (pyproject.toml) puts ``tests/`` on ``sys.path``
for every test folder.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import os
import random
import re
import stat
import struct
import tarfile
import threading
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Union

from packaging.tags import Tag

if TYPE_CHECKING:
    import pathlib

__all__ = [
    "DATE_TIME",
    "PY3",
    "corrupt_crc",
    "escape_name",
    "make_sdist",
    "make_wheel",
    "remove_members",
    "truncate",
    "wheel_with_seed",
    "write_zip",
]

#: The timestamp every member gets, so rebuilding a wheel gives identical bytes.
DATE_TIME = (2020, 1, 1, 0, 0, 0)
_FILE_ATTR = (stat.S_IFREG | 0o644) << 16
_DIR_ATTR = (stat.S_IFDIR | 0o755) << 16 | 0x10  # 0x10: the MS-DOS directory bit
_UNIX = 3  # ZipInfo.create_system; the default depends on the platform building the zip
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")

Members = Union[Mapping[str, bytes], Iterable[tuple[str, bytes]]]


PY3 = [Tag("py3", "none", "any")]
"""The tags a default (pure Python 3) wheel from :func:`make_wheel` matches."""


def escape_name(name: str) -> str:
    """Escape a project name for a wheel file name or ``.dist-info`` directory (PEP 427)."""
    return re.sub(r"[-_.]+", "_", name)


def make_wheel(
    directory: pathlib.Path,
    name: str = "demo",
    version: str = "1.0",
    tags: str = "py3-none-any",
    *,
    build: str | None = None,
    files: Mapping[str, bytes] | None = None,
    payload_size: int = 0,
    seed: int = 0,
    metadata_name: str | None = None,
    metadata_version: str | None = None,
    filename: str | None = None,
    executable: Iterable[str] = (),
) -> pathlib.Path:
    """Write a real wheel into *directory* and return its path.

    The wheel is ``{escaped name}-{version}[-{build}]-{tags}.whl`` (or *filename*)
    and holds ``{package}/__init__.py`` (which records *seed*, so different seeds
    give different bytes), ``{package}/payload.bin`` of *payload_size*
    incompressible bytes derived from *seed* when *payload_size* is non-zero,
    every entry of *files* (archive path to content; an entry replaces a
    generated member of the same name) and ``METADATA``, ``WHEEL`` and a correct
    ``RECORD`` in ``{escaped name}-{version}.dist-info/``.

    *metadata_name* and *metadata_version* override what METADATA says (``""``
    leaves the field out), to build wheels whose metadata disagrees with their name.
    Members named in *executable* get mode 0o755 in the archive.
    """
    escaped = escape_name(name)
    package = escaped.lower()
    dist_info = f"{escaped}-{version}.dist-info"
    record = f"{dist_info}/RECORD"
    build_part = [build] if build else []
    filename = filename or "-".join([escaped, version, *build_part, tags]) + ".whl"

    members = {
        f"{package}/__init__.py": f'"""The {name} test package."""\n\nSEED = {seed}\n'.encode(),
        f"{dist_info}/METADATA": _metadata(
            name if metadata_name is None else metadata_name,
            version if metadata_version is None else metadata_version,
        ),
        f"{dist_info}/WHEEL": _wheel_file(tags),
    }
    if payload_size:
        members[f"{package}/payload.bin"] = random.Random(seed).randbytes(payload_size)
    members.update(files or {})
    members.setdefault(record, _record(members, record))

    # Code first, then the .dist-info directory with RECORD last, as wheel builders do.
    def position(path: str) -> tuple[bool, bool, str]:
        return (path.startswith(f"{dist_info}/"), path == record, path)

    order = sorted(members, key=position)
    directory.mkdir(parents=True, exist_ok=True)
    return write_zip(
        directory / filename,
        [(path, members[path]) for path in order],
        executable=frozenset(executable),
    )


def _metadata(name: str, version: str) -> bytes:
    fields = [("Metadata-Version", "2.1"), ("Name", name), ("Version", version)]
    return "".join(f"{key}: {value}\n" for key, value in fields if value).encode()


def _wheel_file(tags: str) -> bytes:
    lines = [
        "Wheel-Version: 1.0",
        "Generator: wheelcache-tests (wheelfactory)",
        "Root-Is-Purelib: true",
    ]
    parts = tags.split("-")
    if len(parts) == 3:
        expanded = itertools.product(*(part.split(".") for part in parts))
        lines += [f"Tag: {'-'.join(tag)}" for tag in expanded]
    else:
        lines.append(f"Tag: {tags}")
    return "".join(f"{line}\n" for line in lines).encode()


def _record(members: Mapping[str, bytes], record: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path in sorted(members):
        digest = base64.urlsafe_b64encode(hashlib.sha256(members[path]).digest()).rstrip(b"=")
        writer.writerow([path, f"sha256={digest.decode()}", len(members[path])])
    writer.writerow([record, "", ""])
    return out.getvalue().encode()


def write_zip(
    path: pathlib.Path, members: Members, *, executable: frozenset[str] = frozenset()
) -> pathlib.Path:
    """Write *members* (in the order given) as a deterministic ZIP_DEFLATED archive.

    Accepts ``(name, content)`` pairs as well as a mapping, so a test can write
    names no wheel builder would: duplicates, ``../`` paths, backslashes. A name
    ending in ``/`` becomes a directory entry. The file is replaced atomically.
    """
    pairs = members.items() if isinstance(members, Mapping) else members
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in pairs:
                info = zipfile.ZipInfo(name, date_time=DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = _UNIX
                info.external_attr = _DIR_ATTR if name.endswith("/") else _FILE_ATTR
                if name in executable:
                    info.external_attr = (stat.S_IFREG | 0o755) << 16
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
                    archive.writestr(info, content)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def remove_members(path: pathlib.Path, *names: str) -> None:
    """Rewrite the archive at *path* without the members *names* (all must exist)."""
    with zipfile.ZipFile(path) as archive:
        present = {info.filename for info in archive.infolist()}
        absent = sorted(set(names) - present)
        if absent:
            raise KeyError(f"{path} has no member(s) {absent}")
        kept = [(info.filename, archive.read(info)) for info in archive.infolist()]
    write_zip(path, [(name, content) for name, content in kept if name not in names])


def corrupt_crc(path: pathlib.Path, member: str | None = None) -> str:
    """Damage one member's data so reading it fails its CRC check; return its name.

    The zip directory is untouched and still parses. The member is *member*, or
    by default the largest one. A byte of its compressed data is flipped, trying
    positions from the middle outwards until the data still inflates to the right
    length but no longer matches its CRC, so the failure is a CRC failure rather
    than a broken deflate stream. The result is verified with :mod:`zipfile`.
    """
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        candidates = [
            info
            for info in archive.infolist()
            if info.compress_size and (member is None or info.filename == member)
        ]
    if not candidates:
        raise ValueError(f"{path} has no member {member or ''} with data to corrupt".strip())
    target = max(candidates, key=lambda info: (info.compress_size, info.filename))
    fields = _LOCAL_HEADER.unpack_from(data, target.header_offset)
    start = target.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
    end = start + target.compress_size
    for position in _middle_outwards(start, end):
        data[position] ^= 0xFF
        if _inflates_with_bad_crc(bytes(data[start:end]), target):
            break
        data[position] ^= 0xFF
    else:
        raise RuntimeError(f"could not corrupt {target.filename!r} in {path} cleanly")
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:  # the directory still parses...
        bad = archive.testzip()  # ...and the member fails its CRC
    if bad != target.filename:
        raise AssertionError(f"corrupting {target.filename!r} in {path} went wrong: {bad!r}")
    return target.filename


def _middle_outwards(start: int, end: int) -> Iterator[int]:
    middle = (start + end) // 2
    for distance in range(end - start):
        position = middle + (distance + 1) // 2 if distance % 2 else middle - distance // 2
        if start <= position < end:
            yield position


def _inflates_with_bad_crc(compressed: bytes, info: zipfile.ZipInfo) -> bool:
    if info.compress_type == zipfile.ZIP_STORED:
        content = compressed
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            content = inflater.decompress(compressed) + inflater.flush()
        except zlib.error:
            return False
        if not inflater.eof:
            return False
    return len(content) == info.file_size and zlib.crc32(content) != info.CRC


def truncate(path: pathlib.Path, keep: int) -> None:
    """Cut the file at *path* down to its first *keep* bytes."""
    size = path.stat().st_size
    if not 0 <= keep <= size:
        raise ValueError(f"cannot keep {keep} bytes of {path}, which has {size}")
    os.truncate(path, keep)


def wheel_with_seed(directory: pathlib.Path, seed: int, *, payload_size: int = 0) -> pathlib.Path:
    """A wheel of demo 1.0 whose bytes (and digest) differ with *seed*, in its own folder."""
    return make_wheel(directory / f"w{seed}", "demo", "1.0", seed=seed, payload_size=payload_size)


def make_sdist(path: pathlib.Path, members: Mapping[str, bytes]) -> pathlib.Path:
    """A gzipped tar at *path* holding *members* (name: bytes), as an sdist is shipped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path
