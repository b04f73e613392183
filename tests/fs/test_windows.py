"""Windows-only paths, tested everywhere by raising the errors Windows raises.

On Windows, renaming onto an existing directory fails (FileExistsError,
WinError 183) instead of silently replacing an empty one, and virus scanners
briefly hold new files open, so renames and replaces fail for a moment with
PermissionError (WinError 5, access denied; 32, sharing violation). These tests
make os.rename / os.replace raise exactly those errors.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any, Callable

import pytest

from ondisk import replace_os_calls
from wheelcache import CacheError, Source, WheelCache
from wheelcache._fs import fsutil as _fsutil
from wheelcache._store import store as _store
from wheelfactory import PY3, make_wheel

if TYPE_CHECKING:
    from pathlib import Path


def windows_error(kind: type[OSError], code: int, winerror: int, path: str) -> OSError:
    error = kind(code, os.strerror(code), path)
    error.winerror = winerror  # type: ignore[attr-defined]
    return error


def sharing_violation(path: str) -> OSError:
    return windows_error(PermissionError, errno.EACCES, 32, path)


def failing(
    real: Callable[..., Any], errors: list[OSError], *, when: Callable[[str, str], bool]
) -> Callable[..., Any]:
    """Wrap os.rename/os.replace: raise the queued errors for matching calls, then delegate."""

    def fake(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        if errors and when(os.fspath(src), os.fspath(dst)):
            raise errors.pop(0)
        return real(src, dst, *args, **kwargs)

    return fake


def fail_entry_renames(monkeypatch: pytest.MonkeyPatch, errors: list[OSError]) -> None:
    """The renames that publish entries raise *errors*, one a call, then succeed again."""
    replace_os_calls(
        monkeypatch, _store, rename=failing(os.rename, errors, when=lambda s, d: "wheels-v1" in d)
    )


def fail_pointer_replaces(monkeypatch: pytest.MonkeyPatch, errors: list[OSError]) -> None:
    """The replaces that write pointers raise *errors*, one a call, then succeed again."""
    replace_os_calls(
        monkeypatch,
        _fsutil,
        replace=failing(os.replace, errors, when=lambda s, d: d.endswith(".json")),
    )


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fsutil, "RETRY_SECONDS", 0.5)
    monkeypatch.setattr(_store, "RETRY_SECONDS", 0.5)


def test_transient_errors_are_recognised_by_their_windows_codes() -> None:
    assert _fsutil.is_transient(sharing_violation("x"))
    assert _fsutil.is_transient(windows_error(PermissionError, errno.EACCES, 5, "x"))
    assert _fsutil.is_transient(windows_error(PermissionError, errno.EACCES, 33, "x"))
    assert not _fsutil.is_transient(windows_error(FileExistsError, errno.EEXIST, 183, "x"))


def test_posix_permission_errors_are_never_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fsutil, "IS_WINDOWS", False)
    assert not _fsutil.is_transient(PermissionError(errno.EACCES, "denied"))
    monkeypatch.setattr(_fsutil, "IS_WINDOWS", True)
    assert _fsutil.is_transient(PermissionError(errno.EACCES, "denied"))


@pytest.mark.parametrize(
    ("kind", "code", "winerror"),
    [(FileExistsError, errno.EEXIST, 183), (PermissionError, errno.EACCES, 5)],
    ids=["exists", "busy"],
)
def test_rename_onto_existing_entry_failing_as_on_windows_counts_as_already_published(
    cache: WheelCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: type[OSError],
    code: int,
    winerror: int,
) -> None:
    """Windows reports "exists", or "access denied" when the target is in use."""
    wheel = make_wheel(tmp_path)
    first = cache.add(Source("a"), wheel)
    real = os.rename

    def windows_rename(src: Any, dst: Any) -> None:
        if os.path.isdir(dst):
            raise windows_error(kind, code, winerror, os.fspath(dst))
        real(src, dst)

    replace_os_calls(monkeypatch, _store, rename=windows_rename)
    second = cache.add(Source("b"), wheel)
    assert second == first
    assert second.path.read_bytes() == wheel.read_bytes()
    assert os.listdir(cache.root / "staging-v1") == []


def test_sharing_violation_during_entry_rename_is_retried(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = [sharing_violation("stage") for _ in range(3)]
    fail_entry_renames(monkeypatch, errors)
    added = cache.add(source, make_wheel(tmp_path))
    assert errors == []  # all three were raised and survived
    assert cache.get(source, PY3) == added


@pytest.mark.usefixtures("fast_retries")
def test_persistent_sharing_violation_gives_up_with_a_cache_error(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = [sharing_violation("stage") for _ in range(10_000)]
    fail_entry_renames(monkeypatch, errors)
    with pytest.raises(CacheError, match="publish"):
        cache.add(source, make_wheel(tmp_path))
    assert list(cache.wheels()) == []
    assert os.listdir(cache.root / "staging-v1") == []


def test_access_denied_while_replacing_a_pointer_is_retried(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader holding the pointer open blocks os.replace on Windows for a moment."""
    errors = [windows_error(PermissionError, errno.EACCES, 5, "pointer") for _ in range(4)]
    fail_pointer_replaces(monkeypatch, errors)
    added = cache.add(source, make_wheel(tmp_path))
    assert errors == []
    assert cache.get(source, PY3) == added


@pytest.mark.usefixtures("fast_retries")
def test_pointer_replace_that_keeps_failing_leaves_no_temp_file(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = [sharing_violation("pointer") for _ in range(10_000)]
    fail_pointer_replaces(monkeypatch, errors)
    with pytest.raises(CacheError):
        cache.add(source, make_wheel(tmp_path))
    leftovers = [p for p in (cache.root / "sources-v1").rglob("*") if p.is_file()]
    assert leftovers == []
    assert cache.get(source, PY3) is None
