"""A non-editable install of this checkout in a scratch venv, as an installer lays it out.

The benchmark venv holds wheelcache as an editable install (a ``.pth`` file
naming ``src/``), next to every benchmark dependency. A user's install is a
copy of the package in ``site-packages`` with its ``.pyc`` files, and a
console script. :func:`install_copy` makes that, offline: a new venv of the
same interpreter (``python -m venv --without-pip``), ``src/wheelcache``
copied into its ``site-packages`` and byte-compiled, a ``.pth`` line naming
the benchmark venv's ``site-packages`` *after* its own (for wheelcache's
dependencies, which a warm hit never imports; ``.pth`` files there are not
processed, so the editable install stays out), and two console scripts:

* ``wheelcache``: pip's template (pip, and the ``installer`` package, write
  it), which runs ``import re`` before wheelcache's entry point;
* ``wheelcache-noregex``: the same without ``import re``, as uv writes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["Installed", "install_copy"]

_PIP_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from wheelcache.__main__ import entrypoint
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(entrypoint())
"""

_PLAIN_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import sys
from wheelcache.__main__ import entrypoint
if __name__ == "__main__":
    if sys.argv[0].endswith("-script.pyw"):
        sys.argv[0] = sys.argv[0][:-11]
    elif sys.argv[0].endswith(".exe"):
        sys.argv[0] = sys.argv[0][:-4]
    sys.exit(entrypoint())
"""


class Installed:
    """The scratch venv: its interpreter and its two console scripts."""

    def __init__(self, python: Path, pip_script: Path, plain_script: Path) -> None:
        self.python = python
        self.pip_script = pip_script
        self.plain_script = plain_script


def install_copy(repo: Path, directory: Path, base_python: str) -> Installed:
    """Install the checkout at *repo* into a new venv at *directory* (see the module doc)."""
    subprocess.run(
        [base_python, "-m", "venv", "--without-pip", str(directory)], check=True, timeout=300
    )
    bindir = directory / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / Path(base_python).name
    if not python.exists():
        python = bindir / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout.strip()
    )
    shutil.copytree(
        repo / "src" / "wheelcache",
        purelib / "wheelcache",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    subprocess.run(
        [str(python), "-m", "compileall", "-q", str(purelib / "wheelcache")],
        check=True,
        timeout=300,
    )
    (purelib / "zz_benchmark_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    scripts = []
    for name, template in (("wheelcache", _PIP_SCRIPT), ("wheelcache-noregex", _PLAIN_SCRIPT)):
        script = bindir / name
        script.write_text(template.format(python=python), encoding="utf-8")
        script.chmod(0o755)
        scripts.append(script)
    return Installed(python, scripts[0], scripts[1])


if __name__ == "__main__":  # a manual check: python benchmarks/_installed.py DIR
    made = install_copy(Path(__file__).resolve().parent.parent, Path(sys.argv[1]), sys.executable)
    print(made.python, made.pip_script, made.plain_script)
