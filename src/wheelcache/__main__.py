"""``python -m wheelcache`` and the ``wheelcache`` console script."""

from __future__ import annotations

from ._cli.warm import run

__all__ = ["entrypoint"]


def entrypoint() -> None:
    """Run the command with ``sys.argv`` and exit with its status.

    A warm ``wheelcache build`` is answered by :mod:`wheelcache._cli.warm`
    without importing the full command; everything else runs it.
    """
    raise SystemExit(run())


if __name__ == "__main__":
    entrypoint()
