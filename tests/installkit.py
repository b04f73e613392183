"""Wheels and virtual environments for the install tests.

:func:`rich_wheel` builds a wheel with everything an installer must handle:
console and GUI entry points, a ``.data/scripts`` script with a ``#!python``
shebang, ``.data/platlib`` (with a native-looking extension file),
``.data/headers`` and ``.data/data``, and a namespace package. :class:`Venv`
wraps a real virtual environment (with pip) and runs things in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Venv", "make_venv", "rich_wheel"]


def rich_wheel(directory: Path, version: str = "1.0", *, seed: int = 0, name: str = "demo") -> Path:
    """A wheel of *name* exercising every part of an install (see the module docstring)."""
    data = f"{name}-{version}.data"
    files = {
        f"{name}/__init__.py": (
            f"SEED = {seed}\n\ndef main():\n    print('{name}-main', SEED)\n"
        ).encode(),
        f"{name}/entry_points.py": b"",
        f"nsp/{name}_part/__init__.py": f"PART = '{name}'\n".encode(),
        f"{data}/scripts/{name}-tool": (
            f"#!python\nimport {name}\nprint('{name}-tool', {name}.SEED)\n"
        ).encode(),
        f"{data}/platlib/{name}_plat/__init__.py": b"from . import _native_stub\n",
        f"{data}/platlib/{name}_plat/_native_stub.py": b"NATIVE = True\n",
        f"{data}/platlib/{name}_plat/_speedups.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"
        + bytes(64),
        f"{data}/headers/{name}.h": b"int demo(void);\n",
        f"{data}/data/share/{name}/readme.txt": b"hello\n",
        f"{name}-{version}.dist-info/entry_points.txt": (
            f"[console_scripts]\n{name} = {name}:main\n\n[gui_scripts]\n{name}-gui = {name}:main\n"
        ).encode(),
    }
    del files[f"{name}/entry_points.py"]
    return make_wheel(
        directory,
        name,
        version,
        files=files,
        seed=seed,
        executable=[f"{data}/scripts/{name}-tool"],
    )


@dataclass(frozen=True)
class Venv:
    """A real virtual environment."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return next((self.root / "lib").glob("python3*/site-packages"))

    def run(
        self, *args: str | os.PathLike[str], check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")
        }
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["PIP_NO_INPUT"] = "1"
        return subprocess.run(
            [os.fspath(a) for a in args],
            capture_output=True,
            text=True,
            check=check,
            env=env,
            cwd=cwd,
            timeout=120,
        )

    def py(self, code: str) -> str:
        return self.run(self.python, "-c", code).stdout

    def pip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(self.python, "-m", "pip", *args, check=check)

    def script(self, name: str) -> Path:
        return self.root / "bin" / name

    def pip_json_list(self) -> dict[str, str]:
        listed = json.loads(self.pip("list", "--format", "json").stdout)
        return {item["name"]: item["version"] for item in listed}


def make_venv(where: Path, template: Venv | None = None) -> Venv:
    """A virtual environment with pip at *where*: a copy of *template* when given (fast)."""
    if template is None:
        subprocess.run([sys.executable, "-m", "venv", os.fspath(where)], check=True, timeout=300)
        return Venv(where)
    shutil.copytree(template.root, where, symlinks=True)
    # Scripts and pyvenv.cfg name the template's path: point them at the copy.
    for path in [where / "pyvenv.cfg", *(where / "bin").iterdir()]:
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes()
            if os.fsencode(template.root) in text:
                path.write_bytes(text.replace(os.fsencode(template.root), os.fsencode(where)))
    return Venv(where)
