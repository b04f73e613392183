"""Deterministic wheels and sdists for the benchmarks.

The same arguments always give the same bytes: fixed timestamps and
permissions, members in a fixed order, payloads derived from a seed. A wheel
is a real one (METADATA, WHEEL with its Tag lines, RECORD with hashes), so it
passes wheelcache's validation; wheels with different tags differ in their
WHEEL file and so in their SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import re
import tarfile
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["PAYLOAD_MEMBER", "make_sdist", "make_wheel", "payload", "wheel_bytes"]

DATE_TIME = (2020, 1, 1, 0, 0, 0)
PAYLOAD_MEMBER = "payload.bin"
_FILE_ATTR = (0o100644) << 16


def _escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def payload(size: int, seed: int = 0) -> bytes:
    """*size* incompressible bytes derived from *seed*."""
    return random.Random(seed).randbytes(size)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def _expand(tag: str) -> list[str]:
    interpreters, abis, platforms = tag.split("-")
    return [
        f"{i}-{a}-{p}"
        for i in interpreters.split(".")
        for a in abis.split(".")
        for p in platforms.split(".")
    ]


def wheel_bytes(
    name: str, version: str = "1.0", tag: str = "py3-none-any", *, data: bytes = b"", seed: int = 0
) -> tuple[str, bytes]:
    """Return (file name, bytes) of a wheel holding *data* as ``<pkg>/payload.bin``."""
    package = _escape(name).lower()
    dist_info = f"{_escape(name)}-{version}.dist-info"
    members: list[tuple[str, bytes]] = [(f"{package}/__init__.py", f"SEED = {seed}\n".encode())]
    if data:
        members.append((f"{package}/{PAYLOAD_MEMBER}", data))
    members.append(
        (
            f"{dist_info}/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode(),
        )
    )
    wheel_file = "Wheel-Version: 1.0\nGenerator: wheelcache-benchmarks\nRoot-Is-Purelib: true\n"
    wheel_file += "".join(f"Tag: {t}\n" for t in _expand(tag))
    members.append((f"{dist_info}/WHEEL", wheel_file.encode()))
    record = "".join(_record_line(n, d) for n, d in members) + f"{dist_info}/RECORD,,\n"
    members.append((f"{dist_info}/RECORD", record.encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members:
            info = zipfile.ZipInfo(member, DATE_TIME)
            info.external_attr = _FILE_ATTR
            info.create_system = 3
            # Payloads are incompressible: store them; deflate the small text files.
            info.compress_type = zipfile.ZIP_STORED if len(content) > 4096 else zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return f"{_escape(name)}-{version}-{tag}.whl", buffer.getvalue()


def make_wheel(
    directory: Path,
    name: str,
    version: str = "1.0",
    tag: str = "py3-none-any",
    *,
    data: bytes = b"",
    seed: int = 0,
) -> Path:
    """Write a wheel into *directory* (created if needed) and return its path."""
    filename, content = wheel_bytes(name, version, tag, data=data, seed=seed)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_bytes(content)
    return path


_BACKEND = '''\
"""A minimal in-tree PEP 517 backend: no dependencies, so no index is needed."""
import base64, hashlib, os, zipfile

NAME, VERSION = "{name}", "{version}"
TAG = "py3-none-any"


def _record(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{name}},sha256={{digest}},{{len(data)}}\\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def _dist_info():
    return f"{{NAME}}-{{VERSION}}.dist-info"


def _metadata():
    return f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n\\n".encode()


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    target = os.path.join(metadata_directory, _dist_info())
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "METADATA"), "wb") as handle:
        handle.write(_metadata())
    return _dist_info()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = f"{{NAME}}-{{VERSION}}-{{TAG}}.whl"
    wheel = "Wheel-Version: 1.0\\nGenerator: bench-backend\\nRoot-Is-Purelib: true\\n"
    wheel += f"Tag: {{TAG}}\\n"
    members = [
        (f"{{NAME}}/__init__.py", b"VALUE = 1\\n"),
        (f"{{_dist_info()}}/METADATA", _metadata()),
        (f"{{_dist_info()}}/WHEEL", wheel.encode()),
    ]
    record = "".join(_record(n, d) for n, d in members) + f"{{_dist_info()}}/RECORD,,\\n"
    members.append((f"{{_dist_info()}}/RECORD", record.encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return filename
'''


def make_sdist(directory: Path, name: str = "benchdemo", version: str = "1.0") -> Path:
    """Write ``<name>-<version>.tar.gz`` with an in-tree build backend; return its path."""
    base = f"{name}-{version}"
    files = {
        "pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "benchbackend"\n'
            'backend-path = ["."]\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        ),
        "benchbackend.py": _BACKEND.format(name=name, version=version),
        f"{name}/__init__.py": "VALUE = 1\n",
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for member, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            info.mtime = 1577836800
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path
