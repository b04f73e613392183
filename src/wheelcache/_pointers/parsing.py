"""Parsing a pointer's JSON with the json module's own scanner, without importing json.

Importing :mod:`json` imports :mod:`re` and compiles half a dozen regular
expressions, which costs a warm ``wheelcache build`` (started as ``python -m
wheelcache``, or by a console script that does not import ``re`` itself) a
sixth of its time. :func:`loads` is :func:`json.loads` for a pointer:
pointers are written as ASCII (``ensure_ascii``), and for such bytes it runs
the very scanner ``json.loads`` runs (``_json.make_scanner``, with the
settings of a default :class:`json.JSONDecoder`) on the text without the
surrounding whitespace ``json.loads`` skips. Anything else -- bytes that are
not ASCII, a document the scanner does not accept whole, an interpreter
without ``_json`` -- is handed to :func:`json.loads` itself, so the result,
or the exception, is always the one ``json.loads`` gives.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["loads"]

_WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE


class _DecoderSettings:
    """What ``_json.make_scanner`` reads of a :class:`json.JSONDecoder()`: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


def _make_scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - an interpreter without the C accelerator
        return None
    # typeshed types the argument as the scanner itself; any object with these attributes works.
    settings: Any = _DecoderSettings()
    scanner: Callable[[str, int], tuple[Any, int]] = make_scanner(settings)
    return scanner


_scan = _make_scanner()


def loads(data: bytes) -> Any:
    """``json.loads(data)``: the same value, or the same exception."""
    if _scan is not None and data.isascii():
        text = data.decode("ascii").strip(_WHITESPACE)
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError, RecursionError):
            pass  # json.loads raises its own exception for it
        else:
            if end == len(text):
                return value
    import json

    return json.loads(data)
