"""pip's own wheel cache, driven the way pip drives it, for comparison.

Only ``pip._internal`` offers it, so this is tied to pip's internals: the
constructor lost its ``format_control`` argument in pip 23.1 and the cache
needs pip's temp-directory registry to be active (pip's commands set it up).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["PipCache", "available", "pip_version"]


def available() -> bool:
    try:
        import pip._internal.cache  # noqa: F401
    except ImportError:
        return False
    return True


def pip_version() -> str:
    import pip

    return pip.__version__


class PipCache:
    """A ``pip._internal.cache.WheelCache`` in *directory*, with wheels placed where pip looks."""

    def __init__(self, directory: Path, stack: contextlib.ExitStack) -> None:
        from pip._internal.cache import WheelCache
        from pip._internal.utils.temp_dir import global_tempdir_manager, tempdir_registry

        stack.enter_context(global_tempdir_manager())
        stack.enter_context(tempdir_registry())
        parameters = inspect.signature(WheelCache).parameters
        if "format_control" in parameters:  # pip < 23.1
            from pip._internal.models.format_control import FormatControl

            self.cache = WheelCache(str(directory.resolve()), FormatControl())
        else:
            self.cache = WheelCache(str(directory.resolve()))

    @staticmethod
    def link(url: str) -> Any:
        from pip._internal.models.link import Link

        return Link(url)

    @staticmethod
    def tags(tags: Sequence[Any]) -> list[Any]:
        """The same tags as pip's own (vendored) Tag objects; pip compares by class."""
        from pip._vendor.packaging.tags import Tag

        return [Tag(t.interpreter, t.abi, t.platform) for t in tags]

    def place(self, link: Any, wheels: Sequence[Path]) -> Path:
        """Copy *wheels* into the directory pip's cache consults for *link*."""
        directory = Path(self.cache.get_path_for_link(link))
        directory.mkdir(parents=True, exist_ok=True)
        for wheel in wheels:
            shutil.copyfile(wheel, directory / wheel.name)
        return directory

    def get(self, link: Any, name: str, tags: list[Any]) -> Any:
        return self.cache.get(link, name, tags)


@contextlib.contextmanager
def pip_cache(directory: Path) -> Iterator[PipCache]:
    with contextlib.ExitStack() as stack:
        os.makedirs(directory, exist_ok=True)
        yield PipCache(directory, stack)
