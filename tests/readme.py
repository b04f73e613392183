"""The code blocks of README.md, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["README", "python_blocks"]

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of README.md's section *heading* (up to the next heading)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    following = re.search(r"\n#{1,3} ", text[start + 1 :])
    section = text[start : start + 1 + following.start()] if following else text[start:]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
