"""Summaries of repeated measurements: median and spread, and ratios taken round by round."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Summary", "paired_ratios", "quantile", "summarize"]


def quantile(values: Sequence[float], q: float) -> float:
    """The *q* quantile (0..1) of *values*, interpolating linearly between order statistics."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    """The median of repeated measurements and how far they spread."""

    median: float
    p25: float
    p75: float
    min: float
    max: float
    n: int

    @property
    def iqr(self) -> float:
        return self.p75 - self.p25

    def scaled(self, factor: float) -> Summary:
        """The same summary in another unit (every statistic multiplied by *factor*)."""
        return Summary(
            self.median * factor,
            self.p25 * factor,
            self.p75 * factor,
            self.min * factor,
            self.max * factor,
            self.n,
        )

    def as_json(self) -> dict[str, float]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    """Median, quartiles, min and max of *values*."""
    if not values:
        nan = math.nan
        return Summary(nan, nan, nan, nan, nan, 0)
    return Summary(
        statistics.median(values),
        quantile(values, 0.25),
        quantile(values, 0.75),
        min(values),
        max(values),
        len(values),
    )


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratios of measurements taken in the same round (element by element)."""
    if len(numerators) != len(denominators):
        raise ValueError("paired ratios need as many numerators as denominators")
    return [a / b for a, b in zip(numerators, denominators) if b > 0]
