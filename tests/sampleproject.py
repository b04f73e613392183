"""A small sample project whose in-tree build backend counts its builds.

The backend (``backend-path = ["."]``, ``requires = []``, so it builds with or
without isolation and never needs the network) appends one line to the file
named by ``$SAMPLE_BUILD_LOG`` each time it is asked for a wheel, prints a line
on stdout and one on stderr, ships the project's ``entry_points.txt`` (if it
has one) in the wheel's ``.dist-info``, and fails on purpose while the project holds a
file named ``break-the-build``. The log lives outside the project, so writing
it does not change the project's fingerprint.

:func:`write_flit_project` writes a plainer one, ``demo`` 1.0, built by
flit_core.
"""

from __future__ import annotations

import tarfile
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "BREAK",
    "BUILD_LOG_VARIABLE",
    "break_build",
    "builds",
    "make_sdist",
    "write_flit_project",
    "write_project",
]

BUILD_LOG_VARIABLE = "SAMPLE_BUILD_LOG"
BREAK = "break-the-build"

BACKEND = '''\
"""An in-tree build backend for wheelcache's tests: writes a tiny wheel, counting builds."""

import base64
import hashlib
import os
import sys
import zipfile

NAME, VERSION = {name!r}, "1.0"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    log = os.environ.get("{log}")
    if log:
        with open(log, "a") as counter:
            counter.write(f"{{os.getpid()}}\\n")
    print(f"sample backend: building {{NAME}} {{VERSION}}")
    print("sample backend: a line on stderr", file=sys.stderr)
    if os.path.exists("{broken}"):
        print("sample backend: compiling things...")
        raise RuntimeError("the sample backend broke on purpose")
    files = {{}}
    for folder, _dirs, names in os.walk(os.path.join("src", NAME)):
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, "rb") as source:
                    files[os.path.relpath(path, "src").replace(os.sep, "/")] = source.read()
    info = f"{{NAME}}-{{VERSION}}.dist-info"
    metadata = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
    files[f"{{info}}/METADATA"] = metadata.encode()
    if os.path.exists("entry_points.txt"):
        with open("entry_points.txt", "rb") as entry_points:
            files[f"{{info}}/entry_points.txt"] = entry_points.read()
    files[f"{{info}}/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: sample\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    )
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
    record.append(f"{{info}}/RECORD,,")
    files[f"{{info}}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = f"{{NAME}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return filename
'''


def write_project(root: Path, name: str = "sample", *, extra_files: int = 0) -> Path:
    """Write the sample project at *root* (created); *extra_files* more modules make it bigger."""
    package = root / "src" / name
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        "[build-system]\n"
        "requires = []\n"
        'build-backend = "sample_backend"\n'
        'backend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n'
    )
    (root / "sample_backend.py").write_text(
        BACKEND.format(name=name, log=BUILD_LOG_VARIABLE, broken=BREAK)
    )
    (package / "__init__.py").write_text('"""The sample project."""\n\nVALUE = 1\n')
    for index in range(extra_files):
        folder = package / f"part{index // 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{index}.py").write_text(f"VALUE = {index}\n")
    return root


def write_flit_project(root: Path, requires: str = '["flit_core"]') -> Path:
    """Write project ``demo`` 1.0 at *root* (created), built by flit_core, requiring *requires*.

    With ``requires = []`` it builds only without isolation, where flit_core
    is installed already.
    """
    (root / "demo").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = {requires}\nbuild-backend = "flit_core.buildapi"\n\n'
        '[project]\nname = "demo"\nversion = "1.0"\ndescription = "demo"\n'
    )
    (root / "demo" / "__init__.py").write_text('"""Demo."""\n')
    return root


def break_build(root: Path) -> None:
    """Make the sample project's build fail until the marker file is removed."""
    (root / BREAK).write_text("")


def builds(log: Path) -> int:
    """How many times the sample backend was asked for a wheel."""
    return len(log.read_text().splitlines()) if log.exists() else 0


def make_sdist(project: Path, destination: Path, kind: str = "tar.gz") -> Path:
    """Pack *project* as ``name-1.0.tar.gz`` or ``name-1.0.zip`` in *destination*."""
    destination.mkdir(parents=True, exist_ok=True)
    top = f"{project.name}-1.0"
    files = sorted(p for p in project.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    if kind == "zip":
        path = destination / f"{top}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for file in files:
                archive.write(file, f"{top}/{file.relative_to(project).as_posix()}")
        return path
    path = destination / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for file in files:
            archive.add(file, f"{top}/{file.relative_to(project).as_posix()}")
    return path
