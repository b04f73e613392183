"""The library logs through ``logging.getLogger("wheelcache")``, importing logging only when needed.

:mod:`wheelcache._log`: a record below WARNING is dropped without importing
:mod:`logging` while nothing could have configured it; everything else goes
through the real logger, from the caller's line.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from procs import run_as_user
from wheelcache._fs import hashing
from wheelcache._log import get_logger, hold, release


def _child(code: str) -> str:
    return run_as_user(code).strip()


def test_a_debug_record_does_not_import_logging() -> None:
    code = (
        "import sys\nfrom wheelcache._log import get_logger\n"
        "get_logger().debug('x %s', 1)\nget_logger().info('y')\n"
        "print('logging' in sys.modules)"
    )
    assert _child(code) == "False"


def test_a_warning_is_printed_by_loggings_last_resort_as_before() -> None:
    code = "from wheelcache._log import get_logger\nget_logger().warning('careful: %s', 'x')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stderr == "careful: x\n"


def test_records_go_to_the_wheelcache_logger_from_the_callers_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wheelcache")
    get_logger().debug("seen %s", "here")

    (record,) = caplog.records
    assert (record.name, record.levelno, record.getMessage()) == (
        "wheelcache",
        logging.DEBUG,
        "seen here",
    )
    assert record.funcName == "test_records_go_to_the_wheelcache_logger_from_the_callers_line"


def test_held_records_are_kept_back_and_returned(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wheelcache")
    hold()
    try:
        get_logger().info("kept %s", "with its arguments")
        get_logger().debug("dropped or logged, never kept")
    finally:
        held = release()

    assert held == [("wheelcache", logging.INFO, "kept %s", ("with its arguments",))]
    assert [r.getMessage() for r in caplog.records] == ["dropped or logged, never kept"]


@pytest.mark.parametrize("size", [0, 1, 63, 64, 1000, hashing.SMALL - 1, hashing.SMALL + 1])
def test_cpythons_own_sha256_gives_hashlibs_digests(size: int) -> None:
    import hashlib

    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    if hashing._builtin is None:
        pytest.skip("this interpreter has no built-in SHA-256 module")
    assert hashing._builtin(data).hexdigest() == hashlib.sha256(data).hexdigest()


def test_hashing_a_small_file_does_not_load_openssl() -> None:
    code = (
        "import sys\nfrom wheelcache._fs.hashing import file_sha256\n"
        f"file_sha256({__file__!r})\nprint('hashlib' in sys.modules)"
    )
    assert _child(code) == ("True" if hashing._builtin is None else "False")
