"""``python -m wheelcache`` and the ``wheelcache`` console script."""

from __future__ import annotations

from ._cli.main import main

__all__ = ["entrypoint"]


def entrypoint() -> None:
    """Run the command with ``sys.argv`` and exit with its status."""
    raise SystemExit(main())


if __name__ == "__main__":
    entrypoint()
