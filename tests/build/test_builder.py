"""The pypa/build front-end: its errors, and the hint when it is not installed."""

from __future__ import annotations

import pickle
import sys
from typing import TYPE_CHECKING

import pytest

from wheelcache._build import builder as _builder
from wheelcache._build.builder import BuildFailedError, BuildFrontendMissingError

if TYPE_CHECKING:
    from pathlib import Path


def test_builder_errors_pickle() -> None:
    for error in (BuildFrontendMissingError(), BuildFailedError("failed: x", ("a", "b"))):
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), str(copy)) == (type(error), str(error))
    assert pickle.loads(pickle.dumps(BuildFailedError("m", ("a",)))).output == ("a",)


def test_build_wheel_without_pypa_build_raises_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "build", None)

    with pytest.raises(BuildFrontendMissingError) as caught:
        _builder.build_wheel(tmp_path, tmp_path, isolation=False)

    assert str(caught.value) == "building needs pypa/build: pip install 'wheelcache[build]'"
