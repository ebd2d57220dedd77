"""Numbers as the report prints them: percentages, and means over worlds with their 95% intervals."""

from __future__ import annotations

from computematch.measure.study_records import Interval


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}"


def scaled(interval: Interval | None, scale: float, digits: int = 2, signed: bool = True) -> str:
    """'+2.31 [−0.40, +5.02]' (a difference) or '2.31 [0.40, 5.02]': a mean over worlds and its 95% interval,
    times `scale`."""
    if not interval:
        return "n/a"
    sign = "+" if signed else ""
    text = f"{scale * interval.mean:{sign}.{digits}f}"
    if interval.low is None:
        return text
    return f"{text} [{scale * interval.low:{sign}.{digits}f}, {scale * interval.high:{sign}.{digits}f}]"


def points(interval: Interval | None, digits: int = 1) -> str:
    """'+2.3 [−0.4, +5.0]' in points: a mean over worlds and its 95% interval."""
    return scaled(interval, 100, digits)


def mean_pct(interval: Interval | None) -> str:
    return "n/a" if not interval else pct(interval.mean)
